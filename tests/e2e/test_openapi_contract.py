"""The OpenAPI document is a contract the running app keeps, checked by schemathesis.

Schemathesis reads ``/schema/openapi.json`` from the real app (in process, over ASGI), sends
requests generated from it with both credentials, and runs every one of its checks on each
response: no server error, status codes, content types, headers and bodies as documented,
valid data accepted, invalid data rejected, missing credentials refused. Runs are seeded and
derandomized, so a failure reproduces.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from litestar.testing import TestClient
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.feed import EVENT_CURSOR
from api.params import (
    AUDIT_CURSOR,
    CONNECTOR_CURSOR,
    CREDENTIAL_CURSOR,
    DOC_CURSOR,
    INTERNAL,
    SCHEMA_CURSOR,
    SYNC_CURSOR,
)
from api.records import RECORD_CURSOR
from domain.common import Actor
from domain.connectors.ids import encode_connector_id
from domain.credentials.ids import encode_credential_id
from domain.ids import encode_schema_id
from domain.sync.ids import encode_job_id
from registry.auth import ROLES, issue_token
from registry.service import Registry
from registry.settings import ConnectionSettings
from tests.conftest import Backend
from tests.fixtures import SECRET, Credentials

DOCUMENT = "/schema/openapi.json"
EXAMPLES = {"sqlite": 25, "postgres": 5}
"""Examples per operation and phase: a full run on SQLite, a smaller one on PostgreSQL."""
SEED = 20251123


def _cursor(kind: str, *parts: str) -> str:
    text = "|".join((kind, *parts))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


_UUIDS = st.uuids()
schemathesis.openapi.format(
    SCHEMA_CURSOR, _UUIDS.map(lambda u: _cursor("schemas", encode_schema_id(u)))
)
schemathesis.openapi.format(
    CONNECTOR_CURSOR, _UUIDS.map(lambda u: _cursor("connectors", encode_connector_id(u)))
)
schemathesis.openapi.format(
    CREDENTIAL_CURSOR, _UUIDS.map(lambda u: _cursor("credentials", encode_credential_id(u)))
)
schemathesis.openapi.format(
    DOC_CURSOR,
    st.one_of(st.sampled_from(["guide-collectors", "type-s3", "type-universal"]),
              _UUIDS.map(lambda u: "connector-" + encode_connector_id(u)))
    .map(lambda page: _cursor("docs", page)),
)
schemathesis.openapi.format(
    SYNC_CURSOR, _UUIDS.map(lambda u: _cursor("sync", encode_job_id(u)))
)
schemathesis.openapi.format(
    RECORD_CURSOR,
    st.tuples(_UUIDS, st.binary(min_size=32, max_size=32)).map(
        lambda t: _cursor("records", encode_schema_id(t[0]), t[1].hex())),
)
schemathesis.openapi.format(
    EVENT_CURSOR, st.integers(0, 10**12).map(lambda n: _cursor("events", str(n)))
)
schemathesis.openapi.format(
    AUDIT_CURSOR,
    st.tuples(st.datetimes(), _UUIDS).map(
        lambda t: _cursor("audit", t[0].isoformat(timespec="microseconds") + "Z", str(t[1]))
    ),
)


@pytest.fixture
def api_schema(backend: Backend, registry: Registry) -> Iterator[Any]:
    """The app's own document, loaded from the app, with both credentials of an admin."""
    # Connection tests must never wait long per example: a short bound, and the default
    # guard, so generated targets on this machine are refused without being contacted.
    settings = dataclasses.replace(backend.settings(),
                                   connections=ConnectionSettings(timeout_seconds=0.5))
    app = create_app(settings, registry=registry)
    jwt = issue_token(SECRET, tenant="acme", subject="contract", email="contract@example.com",
                      roles=tuple(sorted(ROLES)))
    _, api_token = registry.app.issue_api_token(
        Actor(subject="test-setup", tenant="acme"), "contract tests", "contract"
    )
    Credentials.connector_id("acme", "contract")  # the connector valid schema bodies name
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES[backend.name], "deterministic": True,
                       "database": "none"},
        "checks": {"enabled": True},
        "auth": {"openapi": {"bearerAuth": {"bearer": jwt}, "apiToken": {"api_key": api_token}}},
        "operations": [{
            # A connection test's body is checked against the schemas of the path's type,
            # which one document cannot state per path value, and a schema-valid test may
            # end in any documented outcome of the remote side.
            "include-path-regex": "/test$",
            "checks": {"positive_data_acceptance": {"expected-statuses": [
                "2xx", "400", "401", "403", "404", "408", "409", "429", "502"]}},
        }],
    })
    try:
        yield schemathesis.openapi.from_asgi(DOCUMENT, app, config=config)
    finally:
        asgi.shutdown_lifespans()


contract = schemathesis.pytest.from_fixture("api_schema")


def _unique_names(items: Any) -> None:
    # The document states in words that field (and relationship) names are unique; JSON Schema
    # cannot say it, so valid generated bodies are made to keep that rule too.
    if not isinstance(items, list):
        return
    seen: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            name = item["name"]
            while name in seen:
                name = f"{name[:60]}_{index}"
            item["name"] = name
            seen.add(name)


def _dates_in_order(config: Any) -> None:
    # In words too: a Slack dateRange's "to" is not before its "from".
    dates = config.get("dateRange") if isinstance(config, dict) else None
    if isinstance(dates, dict) and isinstance(dates.get("to"), str) \
            and isinstance(dates.get("from"), str) and dates["to"] < dates["from"]:
        dates["from"], dates["to"] = dates["to"], dates["from"]


@contract.parametrize()
def test_every_operation_keeps_the_documented_contract(case: Any) -> None:
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and isinstance(case.body, dict):
        _unique_names(case.body.get("fields"))
        _unique_names(case.body.get("relationships"))
        _unique_names(case.body.get("variables"))  # connection variables: unique names too
        _unique_names(case.body.get("connectionVariables"))
        if "connectorId" in case.body:  # in words too: it names a live connector of the tenant
            case.body["connectorId"] = Credentials.connector_id("acme", "contract")
        _dates_in_order(case.body.get("config"))
    if meta is not None and meta.generation.mode.is_positive and case.query:
        # In words: a valid oauth-key is one a completed OAuth flow answered, which no
        # generator can make up; a made-up one is a well-formed request that answers 408.
        case.query.pop("oauth-key", None)
    if case.path.endswith("/oauth/{type}/callback"):
        # In words too: a valid state is one an authorize answered moments ago; a made-up
        # one, however well-formed, answers 408 (no generator can start a flow).
        case.call_and_validate(excluded_checks=[positive_data_acceptance])
        return
    case.call_and_validate()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def test_every_internal_operation_needs_both_credentials_and_health_none(
    backend: Backend, registry: Registry
) -> None:
    app = create_app(backend.settings(), registry=registry)
    with TestClient(app) as client:
        document = client.get(DOCUMENT).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http",
                                     "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiToken"] == {**schemes["apiToken"], "type": "apiKey",
                                   "in": "header", "name": "X-API-Token"}
    internal = [op for path, _, op in _operations(document) if path.startswith(INTERNAL + "/")]
    assert len(internal) >= 16
    for operation in internal:
        assert operation["security"] == [{"bearerAuth": [], "apiToken": []}], operation
    public = {path: op for path, _, op in _operations(document)
              if not path.startswith(INTERNAL + "/")}
    assert "/health" in public
    assert all("security" not in op for op in public.values())
    assert "security" not in document


def test_the_documented_security_is_where_the_roles_are_checked(
    backend: Backend, registry: Registry
) -> None:
    # The document says which routes need credentials by path; the middleware checks them on
    # every route that declares roles. Both must name the same routes.
    app = create_app(backend.settings(), registry=registry)
    for route in app.routes:
        for method, (handler, _) in getattr(route, "route_handler_map", {}).items():
            if method == "OPTIONS" or not handler.resolve_include_in_schema():
                continue
            has_roles = handler.opt.get("roles") is not None
            assert has_roles == route.path.startswith(INTERNAL + "/"), (method, route.path)
