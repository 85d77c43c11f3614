"""The staff API (/api/v1): bearer staff tokens, roles and district scopes on every route, JSON
bodies validated with marshmallow (400 naming the fields), JSON errors throughout.

Each route module registers its views on `bp` with @staff_route(rule, roles, methods).
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from bot import db
from bot.staff import authenticate

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def staff_route(rule: str, roles: tuple[str, ...], methods=("GET",)):
    """A view for staff of `roles` (admin is not implied: each route lists who may call it)."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header[:7].lower() == "bearer " else None
            staff = authenticate(db.session(), token)
            if staff is None:
                raise ApiError(401, "a valid staff token is required (Authorization: Bearer <token>)")
            if staff.role not in roles:
                raise ApiError(403, f"the {staff.role} role may not do this")
            g.staff = staff
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        return guarded
    return decorate


def body(schema: Schema) -> dict:
    """The JSON body loaded with `schema`; 400 with field messages otherwise."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the body must be JSON", errors={"_body": ["not valid JSON"]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid fields", errors=exc.messages) from None


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    resp = jsonify({"error": exc.message, **exc.extra})
    resp.status_code = exc.status
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="healthcode"'
    return resp


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    resp = jsonify({"error": exc.description or exc.name})
    resp.status_code = exc.code or 500
    return resp


from bot.api import scans  # noqa: E402  (routes register on import)

ROUTE_MODULES = (scans,)
