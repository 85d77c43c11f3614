"""Alembic, driven from the app's settings (`flask --app wsgi db upgrade`)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(services) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = services.db.engine
    cfg.attributes["metadata"] = services.metadata
    return cfg


def upgrade(services, revision: str = "head") -> None:
    command.upgrade(alembic_config(services), revision)


def downgrade(services, revision: str) -> None:
    command.downgrade(alembic_config(services), revision)


def current_revision(services) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with services.db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(services) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(services)).get_current_head()
