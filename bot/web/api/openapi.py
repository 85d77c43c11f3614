"""The OpenAPI document of the staff API, generated from the routes' own schemas."""
from __future__ import annotations

import re

from flask import jsonify

from bot.web.api.base import ROUTES, bp


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

