"""The staff API's machinery: the blueprint, bearer tokens and roles on every route, bodies and
queries loaded with marshmallow (400 naming the fields), JSON errors (domain refusals mapped to
their statuses), and the routes' metadata the OpenAPI document is made from."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError, pre_load
from werkzeug.exceptions import HTTPException

from bot.chat.conversation.text import CONTROL
from bot.domain.errors import DomainError
from bot.web import db
from bot.domain.staff import authenticate

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ROUTES: list[dict] = []  # what the OpenAPI document describes
MAX_ID = 2**31 - 1        # ids in paths and queries: larger ones are nobody (and would overflow the database)




class ApiSchema(Schema):
    """Every API schema: control characters (NUL above all, which PostgreSQL refuses) are a
    400 naming the field, never a failed insert."""

    @pre_load
    def _no_control_characters(self, data, **_):
        if isinstance(data, dict):
            bad = {k: ["must not contain control characters"] for k, v in data.items()
                   if isinstance(v, str) and CONTROL.search(v) or isinstance(k, str) and CONTROL.search(k)}
            if bad:
                raise ValidationError(bad)
        return data


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


_UNSEEN = object()


def staff_route(rule: str, roles: tuple[str, ...], methods=("GET",), *, body: type[Schema] | None = None,
                query: type[Schema] | None = None, response: type[Schema] | None = None, summary: str = "",
                documented_body: dict | None = None):
    """A view for staff of `roles` (admin is not implied: each route lists who may call it).
    The view gets the loaded body as `data=` and the loaded query as `args=` when declared.
    `documented_body`: {media type: schema} for views that read their body themselves."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            staff = g.pop("authenticated", _UNSEEN)  # the rate limiter looked the token up already
            if staff is _UNSEEN:
                header = request.headers.get("Authorization", "")
                token = header[7:].strip() if header[:7].lower() == "bearer " else None
                staff = authenticate(db.session(), token)
            if staff is None:
                raise ApiError(401, "a valid staff token is required (Authorization: Bearer <token>)")
            if staff.role not in roles:
                raise ApiError(403, f"the {staff.role} role may not do this")
            g.staff = staff
            if any(isinstance(v, int) and not 0 < v <= MAX_ID for v in kwargs.values()):
                raise ApiError(404, "not found")
            if query is not None:
                kwargs["args"] = _load(query(), request.args.to_dict(), "query")
            if body is not None:
                kwargs["data"] = load_body(body())
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        ROUTES.append({"rule": rule, "methods": list(methods), "roles": roles, "body": body, "query": query,
                       "documented_body": documented_body,
                       "response": response, "summary": summary or (view.__doc__ or "").strip().split("\n")[0],
                       "name": view.__name__})
        return guarded
    return decorate


def _load(schema: Schema, data, where: str) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ApiError(400, f"invalid {where}", errors=exc.messages) from None


def load_body(schema: Schema) -> dict:
    """The JSON body loaded with `schema`; 400 with field messages otherwise."""
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "the body must be JSON", errors={"_body": ["not valid JSON"]})
    return _load(schema, data, "fields")


# -- helpers for route modules ------------------------------------------------------------------

def staff():
    return g.staff


def services():
    return current_app.extensions["services"]


# -- errors -----------------------------------------------------------------------------------------

@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    resp = jsonify({"error": exc.message, **exc.extra})
    resp.status_code = exc.status
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="healthcode"'
    return resp


STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 400}


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    """A domain rule refused: its kind is the status."""
    extra = {"errors": exc.errors} if exc.errors else {}
    return _api_error(ApiError(STATUS[exc.kind], exc.message, **extra))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    resp = jsonify({"error": exc.description or exc.name})
    resp.status_code = exc.code or 500
    return resp


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _routing_error(exc: HTTPException):
    """No route matched (e.g. text where a number is expected): JSON under /api/, as documented."""
    if request.path.startswith(bp.url_prefix + "/"):
        return _http_error(exc)
    return exc
