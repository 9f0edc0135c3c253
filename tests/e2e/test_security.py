"""Credentials, roles, tenant isolation and the audit trail, through the real app."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from domain.common import Actor
from domain.connectors.ids import decode_connector_id
from domain.credentials.ids import decode_credential_id
from domain.ids import decode_schema_id
from domain.oauth.grant import grant_uuid
from registry.auth import ROLES
from registry.connectors import Access
from registry.records import primary_key
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import (
    API,
    AS_ADMIN,
    SECRET,
    Credentials,
    cid,
    connector_body,
    headers,
    jwt_only,
    placed,
    seed_create,
)
from tests.fixtures import content_snapshot as snapshot

Client = TestClient[Any]
S3_CONFIG = {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"}


def s3_connector(name: str, **more: Any) -> dict[str, Any]:
    """The seed's S3 connector body under another name, open to the whole tenant."""
    return {"name": name, "type": "s3", "scope": "org", "config": dict(S3_CONFIG),
            "credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                            "secretAccessKey": "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"},
            **more}
DOC = Path(__file__).parents[2] / "docs" / "security.md"
ADMIN = Actor("setup", "acme", "setup@example.com")


def documented_rules() -> dict[str, frozenset[str]]:
    rules = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 + len(ROLES) and cells[0] in ("GET", "POST", "PUT", "PATCH",
                                                               "DELETE"):
            allowed = {role for role, cell in zip(ROLES, cells[2:], strict=True) if cell == "yes"}
            rules[rule_key(cells[0], cells[1])] = frozenset(allowed)
    return rules


def rule_key(method: str, path_template: str) -> str:
    return f"{method.upper()} {path_template.rstrip('/') or '/'}"


def route_rules(app: Litestar) -> dict[str, frozenset[str]]:
    """The roles each /internal route declares in its ``opt``, as the app really has them."""
    rules = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path_format.startswith("/internal"):
            for handler in route.route_handlers:
                for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                    rules[rule_key(method, route.path_format)] = handler.opt.get("roles")
    return rules


def test_every_route_has_exactly_the_documented_rule(client: Client) -> None:
    documented = documented_rules()
    assert len(documented) == 79
    assert documented == route_rules(client.app)


def _fresh_schema(registry: Registry, tenant: str = "acme") -> tuple[str, str]:
    key = f"k{uuid.uuid4().hex[:12]}"
    connector = cid(tenant=tenant)
    access = Access(Actor("setup", tenant), roles=("admin",))
    state = registry.app.create_schema(access, seed_create() | {"key": key,
                                                                "connectorId": connector})
    return state.schema_id, connector


RECORD = {"userId": "u/1", "username": "collected"}
RECORD_KEY = quote(primary_key(RECORD, ["userId"]), safe="")
"""A record of the seed schema, and its primary key as a path segment."""


def _with_record(registry: Registry, schema_id: str) -> str:
    """Give a fresh schema one collected record, through the registry's record store."""
    schema = decode_schema_id(schema_id)
    assert schema is not None
    registry.records.upsert(schema, uuid.uuid4(),
                            [(primary_key(RECORD, ["userId"]), RECORD)])
    return schema_id


LOOPBACK_DATABASE = {"type": "postgresql", "config": {"host": "127.0.0.1", "database": "x"},
                     "credentials": {"username": "u", "password": "p"}}
"""A connector whose connection test the address guard refuses: it reaches nothing."""


def _fresh_connector(registry: Registry, owner: str = "setup", tenant: str = "acme",
                     body: dict[str, Any] | None = None) -> str:
    """A connector the whole tenant sees, owned by ``owner`` (so that it may change it)."""
    access = Access(Actor("setup", tenant), roles=("admin",))
    name = f"Storage {uuid.uuid4().hex[:12]}"
    document = s3_connector(name, ownerId=owner) | (body or {})
    return registry.app.create_connector(access, document).connector_id


def _fresh_credential(registry: Registry, tenant: str = "acme") -> str:
    """A basic-auth credential of the tenant (credentials are tenant-wide)."""
    access = Access(Actor("setup", tenant), roles=("admin",))
    return registry.app.create_credential(access, credential_body("Billing")).credential_id


def credential_body(name: str) -> dict[str, Any]:
    return {"name": name, "type": "basic-auth",
            "data": {"username": "svc", "password": "hunter2-credential"}}


WEBHOOK = {"url": "https://hooks.example.com/in", "secret": "s" * 16, "eventTypes": ["*"]}


def _request_for(key: str, registry: Registry,
                 subject: str = "setup") -> tuple[str, str, dict[str, Any]]:
    method, template = key.split(" ", 1)
    schema_id, connector = _fresh_schema(registry)
    token_id = str(registry.app.issue_api_token(ADMIN, "victim", None)[0].id)
    connector_id = (_fresh_connector(registry, subject, body=LOOPBACK_DATABASE)
                    if template.endswith("/test") else _fresh_connector(registry, subject))
    ids = {"api-tokens": token_id, "connectors": connector_id,
           "credentials": _fresh_credential(registry)}
    if "/webhooks/" in template:
        ids["webhooks"] = registry.app.create_webhook(
            Access(ADMIN, roles=("admin",)), WEBHOOK).webhook_id
    if "/auth-scheme-configs" in template or "/connections" in template:
        return _connection_request(method, template, registry, subject)
    if any(part in template for part in SCRIPTED_ROUTES):
        return _script_request(method, template, registry, subject)
    if "/records" in template:
        _with_record(registry, schema_id)
    if "/docs/" in template:
        ids["docs"] = "connector-" + connector_id
    path = template.format(
        id=next((v for k, v in ids.items() if f"/{k}/" in template), schema_id),
        cid=connector, connector=connector, version="1", primary_key=RECORD_KEY,
        type="google_drive" if "/oauth/" in template else "s3",
    )
    body: dict[str, Any] = {}
    if template.endswith("/callback"):
        body = {"json": {"code": "a-code", "state": "never-started"}}
    elif "/v1/credentials/" in template:
        body = {"json": {"name": "Patched"}} if method == "PATCH" else body
        body = {"json": credential_body("Replaced")} if method == "PUT" else body
    elif method == "POST" and template.endswith("/v1/credentials"):
        body = {"json": credential_body(f"New {uuid.uuid4().hex[:8]}")}
    elif method == "POST" and template.endswith("/connectors"):
        body = {"json": s3_connector(f"New {uuid.uuid4().hex[:8]}")}
    elif template.endswith("/test"):
        # Bodies (and a connector) the address guard refuses: the check reaches nothing.
        body = {"json": {"config": {"host": "127.0.0.1", "database": "x"},
                         "credentials": {"username": "u", "password": "p"}}}
        path = path.replace("/connector-types/s3/", "/connector-types/postgresql/")
    elif template.endswith("/{id}/credentials"):
        body = {"json": s3_connector("")["credentials"]}
    elif method == "PATCH":
        body = {"json": {"config": {"prefix": "/patched/"}}}
    elif method == "PUT" and "/connectors/" in template:
        body = {"json": s3_connector(f"Replaced {uuid.uuid4().hex[:8]}")}
    elif method == "POST" and template.endswith("/schemas"):
        body = {"json": placed(seed_create()) | {"key": f"new{uuid.uuid4().hex[:8]}"}}
    elif method == "PUT" or template.endswith("/compatibility"):
        body = {"json": placed(seed_create()) | {"name": "Renamed"}}
    elif method == "POST" and template.endswith("api-tokens"):
        body = {"json": {"name": "new token"}}
    elif method == "POST" and template.endswith("/webhooks"):
        body = {"json": WEBHOOK}
    return method, path, body


def _connection_request(method: str, template: str, registry: Registry,
                        subject: str) -> tuple[str, str, dict[str, Any]]:
    """A request on a connector's auth scheme configs or connections: a fresh connector
    (owned by ``subject``) with a config ``key`` and a connection ``prod`` using it."""
    connector, credential = _fresh_connection(registry, subject)
    path = template.format(id=connector, config_id="key", name="prod")
    body: dict[str, Any] = {}
    if method == "POST" and template.endswith("/auth-scheme-configs"):
        body = {"json": {"id": "other", "schemeType": "none"}}
    elif method == "PUT" and "/auth-scheme-configs/" in template:
        body = {"json": {"schemeType": "api-key", "name": "X-Other"}}
    elif method == "POST":
        body = {"json": {"name": "other", "credentials": {
            "action": [{"authSchemeConfig": "key", "credential": credential}]}}}
    elif method == "PUT":
        body = {"json": {"name": "prod", "credentials": {"action": [], "trigger": [
            {"authSchemeConfig": "key", "credential": credential}]}}}
    elif method == "DELETE" and "/auth-scheme-configs/" in template:
        registry.app.remove_connection(Access(ADMIN, roles=("admin",)),
                                       _connector_uuid(connector), "prod")
    return method, path, body


SCRIPT = ("def collect(ctx):\n    yield ('account', {'userId': 'u1'})\n"
          "@action('ping', description='Answers pong')\n"
          "def ping(ctx, input):\n    return {'pong': True}\n")


SCRIPTED_ROUTES = ("/connectors/{id}/versions", "/connectors/{id}/sync", "/tools/{id}",
                   "/action/{id}/")


def _script_request(method: str, template: str, registry: Registry,
                    subject: str) -> tuple[str, str, dict[str, Any]]:
    """A request on a connector's script versions or sync jobs: a fresh universal connector
    (owned by ``subject``) with a version ``v1``, and a queued job for the job routes."""
    access = Access(Actor("setup", "acme"), roles=("admin",))
    connector = registry.app.create_connector(access, connector_body(
        f"Scripted {uuid.uuid4().hex[:12]}", ownerId=subject))
    registry.app.save_script_version(access, connector.id, {"name": "v1", "script": SCRIPT})
    job_id = "job_unknown"
    if "{job_id}" in template:
        job_id = registry.app.request_sync(access, connector.id).job_id
    path = template.format(id=connector.connector_id, ref="v1", job_id=job_id,
                           action_id="ping")
    body: dict[str, Any] = {}
    if method == "POST" and template.endswith("/versions"):
        body = {"json": {"name": "v2", "script": SCRIPT}}
    elif method == "PUT":
        body = {"json": {"version": "v1"}}
    elif "/action/" in template:
        body = {"json": {}}
    return method, path, body


def _fresh_connection(registry: Registry, owner: str = "setup",
                      tenant: str = "acme") -> tuple[str, str]:
    """A connector owned by ``owner`` with an api-key config ``key`` and a connection
    ``prod`` using a fresh string credential; answers the connector and credential ids."""
    access = Access(Actor("setup", tenant), roles=("admin",))
    connector = _fresh_connector(registry, owner, tenant)
    uuid_ = _connector_uuid(connector)
    registry.app.add_auth_scheme_config(access, uuid_, {"id": "key", "schemeType": "api-key",
                                                        "name": "X-Key"})
    credential = registry.app.create_credential(access, {
        "name": "Key", "type": "string", "data": {"value": "sk-security"}}).credential_id
    registry.app.add_connection(access, uuid_, {"name": "prod", "credentials": {
        "action": [{"authSchemeConfig": "key", "credential": credential}]}})
    return connector, credential


def _connector_uuid(connector: str) -> uuid.UUID:
    value = decode_connector_id(connector)
    assert value is not None
    return value


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_every_role(client: Client, registry: Registry, role: str) -> None:
    caller = headers(roles=(role,), subject=f"{role}-user")
    for key, allowed in sorted(documented_rules().items()):
        method, path, body = _request_for(key, registry, f"{role}-user")
        if method == "POST" and "/credentials/" in path and path.endswith("/restore"):
            credential = decode_credential_id(path.split("/")[-2])
            assert credential is not None
            registry.app.delete_credential(Access(ADMIN, roles=("admin",)), credential)
        elif method == "POST" and "/connectors/" in path and path.endswith("/restore"):
            connector = decode_connector_id(path.split("/")[-2])
            assert connector is not None
            registry.app.delete_connector(Access(ADMIN, roles=("admin",)), connector,
                                          cascade=False)
        elif method == "POST" and path.endswith("/restore"):
            registry.app.delete_schema(AS_ADMIN, cid(),
                                   registry.queries.get("acme", _uuid(path)).id)  # type: ignore[union-attr]
        response = client.request(method, path, headers=caller, **body)
        if role in allowed and path.endswith("/test"):  # the target is refused, not the role
            assert response.status_code == 400, (key, role, response.text)
            assert response.json()["type"].endswith("/target-not-allowed")
        elif role in allowed and path.endswith("/callback"):  # no flow was started: 408
            assert response.status_code == 408, (key, role, response.text)
        elif role in allowed:
            assert response.status_code not in (401, 403), (key, role, response.text)
            assert response.status_code < 400, (key, role, response.text)
        else:
            assert response.status_code == 403, (key, role, response.text)
            assert response.json()["type"].endswith("/forbidden")


def _uuid(path: str) -> uuid.UUID:
    from domain.ids import decode_schema_id

    match = re.search(r"(sch_[0-9A-Z]{26})", path)
    assert match
    value = decode_schema_id(match.group(1))
    assert value is not None
    return value


# Bad credentials ------------------------------------------------------------------------------

NOW = int(time.time())
DAY = 86400
"""Tokens made when the module is imported must outlive the whole test run."""
SECRET_AT = len("csr_") + 32 + 1  # the secret follows the prefix, the hex id and "_"
GOOD_CLAIMS = {"sub": "mallory", "tenant": "acme", "roles": ["admin"], "exp": NOW + DAY}


def _bearer(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return "Bearer " + jwt.encode(claims, key, algorithm=algorithm)


def _api_token(tenant: str = "acme") -> str:
    return Credentials.api_token(tenant, "test-app")


def _revoked_api_token() -> str:
    registry = Credentials.registry
    assert registry is not None
    state, text = registry.app.issue_api_token(ADMIN, "retired", None)
    registry.app.revoke_api_token(ADMIN, state.id)
    return text


BAD = {
    # name: (authorization, api token factory, expected status)
    "forged signature": (lambda: _bearer(GOOD_CLAIMS, "x" * 40), _api_token, 401),
    "alg none": (lambda: "Bearer " + jwt.encode(GOOD_CLAIMS, None, algorithm="none"),
                 _api_token, 401),
    "expired": (lambda: _bearer(GOOD_CLAIMS | {"exp": NOW - 3600}), _api_token, 401),
    "not yet valid": (lambda: _bearer(GOOD_CLAIMS | {"nbf": NOW + 3600}), _api_token, 401),
    "malformed header": (lambda: "Bearer", _api_token, 401),
    "no api token": (lambda: _bearer(GOOD_CLAIMS), lambda: "", 401),
    "unknown api token": (lambda: _bearer(GOOD_CLAIMS),
                          lambda: f"csr_{uuid.uuid4().hex}_{'A' * 43}", 401),
    "wrong api token secret": (lambda: _bearer(GOOD_CLAIMS),
                               lambda: _api_token()[:SECRET_AT] + "B" * 43, 401),
    "revoked api token": (lambda: _bearer(GOOD_CLAIMS), _revoked_api_token, 401),
    "another tenant's api token": (lambda: _bearer(GOOD_CLAIMS),
                                   lambda: _api_token("globex"), 401),
    "collector calling erase": (lambda: _bearer(GOOD_CLAIMS | {"roles": ["collector"]}),
                                _api_token, 403),
    "no roles at all": (lambda: _bearer(GOOD_CLAIMS | {"roles": []}), _api_token, 403),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_credentials_write_nothing_and_are_audited(
    client: Client, registry: Registry, case: str
) -> None:
    authorization, api_token, status = BAD[case]
    schema_id, connector = _fresh_schema(registry)
    request_headers = {"Authorization": authorization(), "X-API-Token": api_token()}
    request_headers = {k: v for k, v in request_headers.items() if v}
    before = snapshot(registry)
    path = f"{API}/schemas/{connector}/{schema_id}/erase"

    response = client.delete(path, headers=request_headers)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "csr_" not in response.text and SECRET not in response.text
    assert snapshot(registry) == before
    claimed = "" if case == "malformed header" else "acme"  # no readable claim: no tenant
    (entry,) = registry.audit.page(claimed, actor=None, schema_id=schema_id, before=None,
                                   limit=50)
    assert (entry["status"], entry["outcome"], entry["method"]) == (status, "denied", "DELETE")
    assert bool(entry["authenticated"]) is (status == 403)
    # The record names the route template and the schema id, never the path's connector id.
    assert entry["route"] == f"{API}/schemas/{{cid}}/{{id}}/erase"
    assert connector not in str(entry)
    if claimed:
        audit = client.get("/internal/v1/audit", params={"schemaId": schema_id},
                           headers=headers(roles=("auditor",)))
        assert [e["status"] for e in audit.json()["entries"]] == [status]


def test_a_revoked_token_stops_working(client: Client, registry: Registry) -> None:
    admin = headers()
    issued = client.post("/internal/v1/api-tokens", json={"name": "ci", "appId": "ci-app"},
                         headers=admin)
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert issued.json()["appId"] == "ci-app"
    caller = {"Authorization": jwt_only()["Authorization"], "X-API-Token": token}
    assert client.get(f"{API}/schemas", headers=caller).status_code == 200
    listed = client.get("/internal/v1/api-tokens", headers=admin).json()["tokens"]
    mine = next(t for t in listed if t["id"] == issued.json()["id"])
    assert "token" not in mine and mine["lastUsedAt"] is not None
    assert client.delete(f"/internal/v1/api-tokens/{mine['id']}", headers=admin).status_code == 204
    assert client.get(f"{API}/schemas", headers=caller).status_code == 401
    again = client.delete(f"/internal/v1/api-tokens/{mine['id']}", headers=admin)
    assert again.status_code == 409


def test_events_carry_the_application_id(client: Client, registry: Registry) -> None:
    caller = headers(app_id="collector-7")
    created = client.post(f"{API}/schemas", json=placed(seed_create()), headers=caller)
    state = registry.app.repository.get(_uuid(created.headers["location"]))
    events = list(registry.app.events.get(state.id))
    assert [e.app_id for e in events] == ["collector-7"]
    entry = client.get("/internal/v1/audit", headers=headers()).json()["entries"][-1]
    assert entry["appId"] == "collector-7" and entry["outcome"] == "success"


def test_audit_filters_and_pages(client: Client, registry: Registry) -> None:
    for index in range(3):
        client.post(f"{API}/schemas", json=placed(seed_create()) | {"key": f"a{index}"},
                    headers=headers(subject="alice", email="alice@example.com"))
    client.post(f"{API}/schemas", json=placed(seed_create()) | {"key": "b"},
                headers=headers(subject="bob", email=None))
    auditor = headers(roles=("auditor",))
    by_alice = client.get("/internal/v1/audit", params={"actor": "alice@example.com"},
                          headers=auditor).json()["entries"]
    assert len(by_alice) == 3 and {e["actor"] for e in by_alice} == {"alice@example.com"}
    by_bob = client.get("/internal/v1/audit", params={"actor": "bob"}, headers=auditor).json()
    assert [e["actor"] for e in by_bob["entries"]] == ["bob"]
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/internal/v1/audit", params=params, headers=auditor).json()
        seen += page["entries"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 4
    assert [e["time"] for e in seen] == sorted((e["time"] for e in seen), reverse=True)
    other = client.get("/internal/v1/audit", headers=headers(tenant="globex",
                                                              roles=("auditor",)))
    assert other.json()["entries"] == []


# Tenant isolation -------------------------------------------------------------------------------

ID_ROUTES = [key for key in documented_rules() if "{id}" in key and "/generate/" not in key]


@pytest.mark.parametrize("key", ID_ROUTES)
def test_another_tenants_id_looks_exactly_like_a_missing_one(
    client: Client, registry: Registry, key: str
) -> None:
    method, template = key.split(" ", 1)
    schema_id, connector = _fresh_schema(registry)
    token_id = str(registry.app.issue_api_token(ADMIN, "victim", None)[0].id)
    connector_id = _fresh_connector(registry)
    theirs, random = _with_record(registry, schema_id), "sch_" + "7" * 26
    replaces = method == "PUT" or template.endswith("/compatibility")
    body: dict[str, Any] = {"json": placed(seed_create())} if replaces else {}
    if "api-tokens" in template:
        theirs, random = token_id, str(uuid.uuid4())
    elif "/v1/credentials/" in template:
        theirs, random = _fresh_credential(registry), "crd_" + "7" * 26
        body = {"json": credential_body("Intruder")} if method == "PUT" else body
        body = {"json": {"name": "Intruder"}} if method == "PATCH" else body
    elif "/auth-scheme-configs" in template or "/connections" in template:
        theirs, random = _fresh_connection(registry)[0], "cnn_" + "7" * 26
        body = {"json": {"id": "x", "schemeType": "none"}} if "auth-scheme" in template else {
            "json": {"name": "prod", "credentials": {"action": []}}}
        body = body if method in ("POST", "PUT") else {}
    elif any(part in template for part in SCRIPTED_ROUTES):
        method, path, body = _script_request(method, template, registry, "setup")
        found = re.search(r"cnn_[0-9A-Z]{26}", path)
        assert found is not None
        theirs, random = found.group(0), "cnn_" + "7" * 26
        template = template.replace("{ref}", "v1").replace("{action_id}", "ping").replace(
            "{job_id}", path.split("/")[-1] if "{job_id}" in template else "")
    elif "/docs/" in template:
        theirs, random = "connector-" + connector_id, "connector-cnn_" + "7" * 26
    elif "/connectors/" in template:
        theirs, random = connector_id, "cnn_" + "7" * 26
        body = {"json": s3_connector("Intruder")} if method == "PUT" else body
        body = {"json": {"config": {"prefix": "/x/"}}} if method == "PATCH" else body
        body = {"json": s3_connector("")["credentials"]} if "/credentials" in template else body
    before = snapshot(registry)
    connectors_before = registry.connectors.page("acme", include_deleted=True, limit=100)
    credentials_before = registry.credentials.page("acme", include_deleted=True, limit=100)
    # One request id for both, so that the problem documents may be equal to the byte.
    intruder = {**headers(tenant="globex"), "X-Request-Id": "same-for-both"}
    answers = []
    for target in (random, theirs):
        path = template.format(id=target, cid=connector, connector="x", version="1",
                               config_id="key", name="prod", primary_key=RECORD_KEY)
        response = client.request(method, path, headers=intruder, **body)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    after = snapshot(registry)
    assert after["schemas"] == before["schemas"] and after["versions"] == before["versions"]
    assert registry.connectors.page("acme", include_deleted=True, limit=100) == connectors_before
    assert registry.credentials.page("acme", include_deleted=True,
                                     limit=100) == credentials_before


def test_another_tenants_oauth_state_looks_exactly_like_an_unknown_one(
    client: Client, registry: Registry
) -> None:
    started = client.get("/internal/v1/connectors/oauth/google_drive/authorize",
                         headers=headers(roles=("editor",)))
    assert started.status_code == 200, started.text
    theirs = parse_qs(urlsplit(started.json()["authUrl"]).query)["state"][0]
    intruder = {**headers(tenant="globex", roles=("editor",)), "X-Request-Id": "same-for-both"}
    answers = []
    for state in ("never-started", theirs):
        response = client.post("/internal/v1/connectors/oauth/google_drive/callback",
                               json={"code": "a-code", "state": state}, headers=intruder)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1]
    assert answers[0][0] == 408 and answers[0][1]["type"].endswith("/oauth-key-expired")
    assert registry.app.repository.get(grant_uuid(theirs)).version == 1  # only started


def test_lists_and_generators_are_scoped(client: Client, registry: Registry) -> None:
    _fresh_schema(registry)
    intruder = headers(tenant="globex")
    assert client.get(f"{API}/schemas", headers=intruder).json()["schemas"] == []
    tokens = client.get("/internal/v1/api-tokens", headers=intruder).json()["tokens"]
    assert all(t["tenant"] == "globex" for t in tokens)
    mine = client.get(f"{API}/generate/schema-id/{cid()}/account", headers=headers())
    theirs = client.get(f"{API}/generate/schema-id/{cid()}/account", headers=intruder)
    assert mine.json()["id"] != theirs.json()["id"]


def test_a_dump_holds_no_api_token(backend: Backend, client: Client) -> None:
    issued = client.post("/internal/v1/api-tokens", json={"name": "secret"}, headers=headers())
    token = issued.json()["token"]
    secret = token[SECRET_AT:]
    dump = backend.dump()
    assert issued.json()["id"] in dump
    assert token not in dump and secret not in dump
    for used in Credentials.issued.values():
        assert used[SECRET_AT:] not in dump


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": 5}, {"name": "x", "appId": "has space"}, {"name": "x", "extra": 1},
     ["name"], {"name": "x" * 101}],
)
def test_bad_token_requests_are_422_and_issue_nothing(
    client: Client, registry: Registry, body: Any
) -> None:
    admin = headers()
    before = client.get("/internal/v1/api-tokens", headers=admin).json()
    response = client.post("/internal/v1/api-tokens", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    assert client.get("/internal/v1/api-tokens", headers=admin).json() == before


def test_an_internal_route_that_declares_no_roles_is_denied_to_everyone(client: Client) -> None:
    from litestar import get

    @get("/internal/v1/forgotten", sync_to_thread=False)
    def forgotten() -> dict[str, str]:
        return {"reached": "yes"}

    client.app.register(forgotten)
    response = client.get("/internal/v1/forgotten", headers=headers(roles=ROLES))
    assert response.status_code == 403, response.text
    assert client.get("/internal/v1/forgotten").status_code == 401


def test_each_state_changing_request_has_exactly_one_audit_record(
    client: Client, registry: Registry
) -> None:
    """A successful change is recorded in its own transaction, a refused one on its own."""
    editor = headers(roles=("editor",), subject="ed", email="ed@example.com")
    created = client.post(f"{API}/schemas", json=placed(seed_create()) | {"key": "audited"},
                          headers=editor)
    assert created.status_code == 201
    schema_id = created.json()["id"]
    refused = client.put(f"{API}/schemas/{schema_id}", json={"name": 1}, headers=editor)
    assert refused.status_code == 422
    unchanged = client.put(f"{API}/schemas/{schema_id}",
                           json=placed(seed_create()) | {"key": "audited"},
                           headers=editor)
    assert unchanged.json()["status"] == "unchanged"
    rows = registry.audit.page("acme", actor="ed", schema_id=schema_id, before=None, limit=10)
    assert sorted((r["method"], r["status"], r["outcome"]) for r in rows) == [
        ("POST", 201, "success"), ("PUT", 200, "success"), ("PUT", 422, "rejected")]


@pytest.mark.parametrize(("path", "methods"), [
    ("/internal/v1/api-tokens", {"GET", "POST", "OPTIONS"}),
    (f"{API}/schemas", {"GET", "POST", "OPTIONS"}),
])
def test_options_lists_every_method_without_credentials(
    client: Client, path: str, methods: set[str]
) -> None:
    response = client.options(path)
    assert response.status_code == 204, response.text
    assert set(response.headers["allow"].replace(" ", "").split(",")) == methods
    assert response.content == b""
