"""The staff API (/api/v1): bearer staff tokens, roles and district scopes on every route, JSON
bodies and queries validated with marshmallow (400 naming the fields), JSON errors throughout,
and an OpenAPI document generated from the same schemas (/api/v1/openapi.json).

Each route module registers its views on `bp` with @staff_route(rule, roles, methods, body=…,
query=…, response=…): the decorator checks the token and role, loads the body and query, and
records what the OpenAPI document says of the route.
"""
from __future__ import annotations

import re
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError, pre_load
from werkzeug.exceptions import HTTPException

from bot.domain import audit
from bot.infra import db
from bot.domain.staff import authenticate

bp = Blueprint("api", __name__, url_prefix="/api/v1")
ROUTES: list[dict] = []  # what the OpenAPI document describes
MAX_ID = 2**31 - 1        # ids in paths and queries: larger ones are nobody (and would overflow the database)


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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


def staff_route(rule: str, roles: tuple[str, ...], methods=("GET",), *, body: type[Schema] | None = None,
                query: type[Schema] | None = None, response: type[Schema] | None = None, summary: str = "",
                documented_body: dict | None = None):
    """A view for staff of `roles` (admin is not implied: each route lists who may call it).
    The view gets the loaded body as `data=` and the loaded query as `args=` when declared.
    `documented_body`: {media type: schema} for views that read their body themselves."""
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


def in_scope(district: str | None) -> bool:
    """Community staff act only within their districts (a scope code covers the codes under it)."""
    s = g.staff
    if s.role != "community":
        return True
    return bool(district) and any(district.startswith(code) for code in (s.scope or []))


def require_scope(district: str | None) -> None:
    if not in_scope(district):
        raise ApiError(403, "outside your districts")


def audit_staff(session, action: str, subject_person_id: int | None = None, **detail) -> None:
    audit.record(session, action, actor_kind="staff", actor_id=g.staff.id, subject_person_id=subject_person_id,
                 role=g.staff.role, **detail)


# -- errors -----------------------------------------------------------------------------------------

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


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _routing_error(exc: HTTPException):
    """No route matched (e.g. text where a number is expected): JSON under /api/, as documented."""
    if request.path.startswith(bp.url_prefix + "/"):
        return _http_error(exc)
    return exc


# -- the OpenAPI document ----------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_spec())


def openapi_spec() -> dict:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title="Health code staff API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Bearer staff tokens; roles and district scopes on every route."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "properties": {
        "error": {"type": "string"}, "errors": {"type": "object"}}, "required": ["error"]})
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    paths: dict[str, dict] = {}
    for r in ROUTES:
        path = "/api/v1" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r["rule"])
        for method in r["methods"]:
            op = {"summary": r["summary"], "operationId": f"{r['name']}_{method.lower()}",
                  "security": [{"bearer": []}], "description": "Roles: " + ", ".join(r["roles"]),
                  "responses": {"401": {"description": "no valid staff token", **error},
                                "403": {"description": "role or district not allowed", **error}}}
            params = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"<(?:\w+:)?(\w+)>", r["rule"])]
            if r["query"] is not None:
                params.append({"in": "query", "schema": r["query"]})
            if params:
                op["parameters"] = params
            if r["body"] is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": r["body"]}}}
                op["responses"]["400"] = {"description": "invalid fields, named", **error}
            if r["documented_body"]:
                op["requestBody"] = {"required": True, "content": {
                    media: {"schema": schema} for media, schema in r["documented_body"].items()}}
                op["responses"]["400"] = {"description": "invalid fields, named (rows and fields)", **error}
            if r["query"] is not None:
                op["responses"]["400"] = {"description": "invalid query, named", **error}
            ok = {"description": "done"}
            if r["response"] is not None:
                ok["content"] = {"application/json": {"schema": r["response"]}}
            op["responses"]["200"] = ok
            op["responses"]["404"] = {"description": "not found (the id, number or person)", **error}
            op["responses"]["409"] = {"description": "conflict with the current state", **error}
            op["responses"]["429"] = {"description": "too many requests for this token", **error}
            paths.setdefault(path, {})[method.lower()] = op
    for path, ops in paths.items():
        spec.path(path=path, operations=ops)
    doc = spec.to_dict()
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        if name != "Error" and "properties" in schema:
            schema.setdefault("additionalProperties", False)  # marshmallow refuses unknown fields
    return doc


from bot.web.api import admin, alerts, appeals, arrivals, lab, people, risk_areas, scans  # noqa: E402  (routes register)

ROUTE_MODULES = (admin, appeals, arrivals, lab, people, risk_areas, scans)
