"""The staff API (/api/v1): bearer staff tokens, roles and district scopes on every route, JSON
bodies and queries validated with marshmallow (400 naming the fields), JSON errors throughout,
and an OpenAPI document generated from the same schemas (/api/v1/openapi.json).

Each route module registers its views on `bp` with @staff_route(rule, roles, methods, body=…,
query=…, response=…): the decorator checks the token and role, loads the body and query, and
records what the OpenAPI document says of the route.
"""
from bot.web.api.base import (CONTROL, MAX_ID, ROUTES, ApiError, ApiSchema, bp, load_body,  # noqa: F401
                              services, staff, staff_route)
from bot.web.api import (accounts, admin, alerts, appeals, arrivals, desks, lab, openapi, people,  # noqa: F401,E402
                         risk_areas, scans)  # each registers its routes on bp
