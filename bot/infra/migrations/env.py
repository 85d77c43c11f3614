"""Alembic environment: the engine comes from the app (bot.infra.migrate), never from a URL here."""
from alembic import context
from sqlalchemy.types import TypeDecorator

config = context.config
engine = config.attributes["engine"]
metadata = config.attributes.get("metadata")  # the models' (Services.metadata): autogenerate compares with it


def render_item(type_, obj, autogen_context):
    # Migrations name plain column types: an Encrypted or UTCDateTime column is a String or
    # DateTime in the database, and a migration must not change when those classes do.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance if hasattr(obj, "impl_instance") else obj.impl
        return f"sa.{impl!r}"
    return False


SQLITE = engine.dialect.name == "sqlite"

with engine.connect() as connection:
    if SQLITE:
        # A batch migration rebuilds a table (copy, drop, rename). With foreign keys on, dropping a
        # parent table deletes what hangs on it (ON DELETE CASCADE): off for the migrations (it only
        # takes effect outside a transaction), checked after, on again before the connection is reused.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        context.configure(connection=connection, target_metadata=metadata, render_item=render_item,
                          render_as_batch=SQLITE, compare_type=False)
        with connection.begin():
            context.run_migrations()
            if SQLITE:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if SQLITE:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
