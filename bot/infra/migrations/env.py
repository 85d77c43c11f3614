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


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_item=render_item,
                      render_as_batch=engine.dialect.name == "sqlite", compare_type=False)
    with context.begin_transaction():
        context.run_migrations()
