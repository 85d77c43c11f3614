"""The request's database session: created on first use, closed when the request ends."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session


def session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["db"].sessionmaker()
    return g.db_session


def close_request_session(_exc=None):
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
