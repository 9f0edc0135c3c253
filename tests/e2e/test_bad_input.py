"""Bad input gets a clear RFC 9457 problem and changes nothing, on both backends."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from registry.service import Registry
from tests.fixtures import API, SECRET, cid, content_snapshot, headers, placed, seed_create

Client = TestClient[Any]
H = headers()
JSON = {"content-type": "application/json"}


def token(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


NOW = int(time.time())
DAY = 86400
"""Tokens made when the module is imported must outlive the whole test run."""
GOOD = {"sub": "u", "tenant": "acme", "exp": NOW + DAY}
UNSIGNED = jwt.encode(GOOD, None, algorithm="none")

BAD_AUTH = {
    "missing header": {},
    "wrong scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": {"Authorization": "Bearer "},
    "garbage token": {"Authorization": "Bearer not.a.jwt"},
    "forged signature": token(GOOD, key="another-secret-that-is-long-enough-to-sign"),
    "alg none": {"Authorization": f"Bearer {UNSIGNED}"},
    "expired": token(GOOD | {"exp": NOW - 3600}),
    "no exp": token({"sub": "u", "tenant": "acme"}),
    "no tenant": token({"sub": "u", "exp": NOW + DAY}),
    "empty tenant": token(GOOD | {"tenant": ""}),
    "tenant not a string": token(GOOD | {"tenant": ["acme"]}),
    "roles not a list": token(GOOD | {"roles": "admin"}),
}


@pytest.mark.parametrize("case", list(BAD_AUTH))
def test_bad_credentials_are_401_and_write_nothing(
    client: Client, registry: Registry, case: str
) -> None:
    document = placed(seed_create())
    before = content_snapshot(registry)
    response = client.post(f"{API}/schemas", json=document, headers=BAD_AUTH[case])
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401
    assert content_snapshot(registry) == before


def _existing(client: Client) -> str:
    return str(client.post(f"{API}/schemas", json=placed(seed_create()), headers=H).json()["id"])


BIG = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'
CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # (name, method, path ({id} = an existing schema), request kwargs, status, problem slug)
    ("malformed json", "POST", "/schemas", {"content": b"{oops", "headers": JSON}, 400,
     "malformed-request"),
    ("truncated json", "PUT", "/schemas/{id}", {"content": b'{"name": ', "headers": JSON}, 400,
     "malformed-request"),
    ("not json at all", "POST", "/schemas", {"content": b"\xff\xfe", "headers": JSON}, 400,
     "malformed-request"),
    ("text/plain", "POST", "/schemas", {"content": b"{}", "headers": {"content-type":
                                                                      "text/plain"}}, 415,
     "unsupported-media-type"),
    ("no body", "POST", "/schemas", {"headers": JSON}, 400, "malformed-request"),
    ("array body", "POST", "/schemas", {"json": []}, 422, "validation-failed"),
    ("primary as 0", "POST", "/schemas", {"json": seed_create() | {"fields": [
        {"name": "a", "type": "string", "primary": 0}]}}, 422, "validation-failed"),
    ("primary as 'true'", "POST", "/schemas", {"json": seed_create() | {"fields": [
        {"name": "a", "type": "string", "primary": "true"}]}}, 422, "validation-failed"),
    ("unknown type", "POST", "/schemas", {"json": seed_create() | {"fields": [
        {"name": "a", "type": "varchar", "primary": True}]}}, 422, "validation-failed"),
    ("no primary", "POST", "/schemas", {"json": seed_create() | {"fields": [
        {"name": "a", "type": "string"}]}}, 422, "validation-failed"),
    ("duplicate field", "PUT", "/schemas/{id}", {"json": seed_create() | {"fields": [
        {"name": "a", "type": "string", "primary": True}, {"name": "a", "type": "uuid"}]}}, 422,
     "validation-failed"),
    ("missing connectorId", "POST", "/schemas", {"json": {k: v for k, v in seed_create().items()
                                                          if k != "connectorId"}}, 422,
     "validation-failed"),
    ("connectorId not a connector id", "POST", "/schemas", {"json": seed_create() | {
        "key": "k3", "connectorId": "no-such-connector"}}, 422, "validation-failed"),
    ("unknown connector", "POST", "/schemas", {"json": seed_create() | {
        "key": "k3", "connectorId": "cnn_00000000000000000000000000"}}, 422,
     "validation-failed"),
    ("another tenant's connector", "POST", "/schemas", {"json": seed_create() | {
        "key": "k3", "connectorId": "{other}"}}, 422, "validation-failed"),
    ("connectorId not a string", "POST", "/schemas", {"json": seed_create() | {
        "key": "k3", "connectorId": 7}}, 422, "validation-failed"),
    ("name too long", "POST", "/schemas", {"json": seed_create() | {"name": "n" * 5000}}, 422,
     "validation-failed"),
    ("huge body", "POST", "/schemas", {"content": BIG, "headers": JSON}, 413, "body-too-large"),
    ("huge put", "PUT", "/schemas/{id}", {"content": BIG, "headers": JSON}, 413,
     "body-too-large"),
    ("truncated dry run", "POST", "/schemas/{id}/compatibility",
     {"content": b'{"name": ', "headers": JSON}, 400, "malformed-request"),
    ("huge dry run", "POST", "/schemas/{id}/compatibility", {"content": BIG, "headers": JSON},
     413, "body-too-large"),
    ("unknown mode", "POST", "/schemas/{id}/compatibility?mode=backward",
     {"json": seed_create()}, 422, "invalid-parameter"),
    ("unknown id", "GET", "/schemas/sch_00000000000000000000000000", {}, 404,
     "schema-not-found"),
    ("malformed id", "GET", "/schemas/%00%ff", {}, 404, "schema-not-found"),
    ("unknown id put", "PUT", "/schemas/sch_00000000000000000000000000",
     {"json": seed_create()}, 404, "schema-not-found"),
    ("unknown id erase", "DELETE", "/schemas/{cid}/sch_00000000000000000000000000/erase",
     {}, 404, "schema-not-found"),
    ("stale if-match", "PUT", "/schemas/{id}", {"json": seed_create() | {"name": "x"},
                                               "headers": {"If-Match": '"5"'}}, 412,
     "stale-version"),
    ("garbage if-match", "PUT", "/schemas/{id}", {"json": seed_create() | {"name": "x"},
                                                 "headers": {"If-Match": "yesterday"}}, 412,
     "stale-version"),
    ("bad limit", "GET", "/schemas?limit=0", {}, 422, "invalid-parameter"),
    ("huge limit", "GET", "/schemas?limit=100000", {}, 422, "invalid-parameter"),
    ("bad cursor", "GET", "/schemas?cursor=%%%", {}, 422, "invalid-parameter"),
    ("forged cursor", "GET", "/schemas?cursor=djE6c2NoX3h4", {}, 422, "invalid-parameter"),
    ("bad flag", "GET", "/schemas?includeDeleted=maybe", {}, 422, "invalid-parameter"),
    ("existing key, other content", "POST", "/schemas",
     {"json": seed_create() | {"name": "Other"}}, 409, "schema-exists"),
    ("asOf not a time", "GET", "/schemas/{id}?asOf=yesterday", {}, 422, "invalid-parameter"),
    ("asOf without offset", "GET", "/schemas?asOf=2026-01-01T00:00:00", {}, 422,
     "invalid-parameter"),
    ("asOf impossible date", "GET", "/schemas/{id}/history?asOf=2026-02-30T00:00:00Z", {}, 422,
     "invalid-parameter"),
    ("bad fingerprint", "GET", "/schemas?fingerprint=xyz", {}, 422, "invalid-parameter"),
    ("diff from 0", "GET", "/schemas/{id}/diff?from=0", {}, 422, "invalid-parameter"),
    ("diff to a word", "GET", "/schemas/{id}/diff?to=last", {}, 422, "invalid-parameter"),
    ("restore live", "POST", "/schemas/{cid}/{id}/restore", {}, 409,
     "schema-not-deleted"),
    ("deeply nested json", "POST", "/schemas", {"content": b"[" * 200000 + b"]" * 200000,
                                                "headers": JSON}, 400, "malformed-request"),
    ("lone surrogate", "POST", "/schemas", {"content": b'{"name": "\\ud800"}',
                                            "headers": JSON}, 400, "malformed-request"),
    ("control character in name", "POST", "/schemas", {"json": seed_create() | {
        "key": "k2", "name": "a\u0000b"}}, 422, "validation-failed"),
    ("weak if-match", "PUT", "/schemas/{id}", {"json": seed_create() | {"name": "x"},
                                              "headers": {"If-Match": 'W/"1"'}}, 412,
     "stale-version"),
    ("unicode digit limit", "GET", "/schemas?limit=%C2%B2", {}, 422, "invalid-parameter"),
    ("unicode digit version", "GET", "/schemas/{id}/versions/%C2%B2", {}, 404,
     "version-not-found"),
    ("latin-1 in a string", "POST", "/schemas", {"content": b'{"name": "caf\xe9"}',
                                                 "headers": JSON}, 400, "malformed-request"),
    ("latin-1 in a property name", "POST", "/schemas", {"content": b'{"caf\xe9": 1}',
                                                        "headers": JSON}, 400,
     "malformed-request"),
    ("latin-1 in a put", "PUT", "/schemas/{id}", {"content": b'{"name": "caf\xe9"}',
                                                  "headers": JSON}, 400, "malformed-request"),
    ("unknown route", "GET", "/nowhere", {}, 404, "not-found"),
    ("wrong method", "PATCH", "/schemas/{id}", {"json": {}}, 405, "method-not-allowed"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_requests_get_a_problem_and_change_nothing(
    client: Client, registry: Registry, case: tuple[str, str, str, dict[str, Any], int, str]
) -> None:
    _, method, path, shared, status, slug = case
    kwargs = dict(shared)  # the table is shared by both backends' runs
    schema_id = _existing(client)
    before = client.get(f"{API}/schemas/{schema_id}/history", headers=H).json()

    document = kwargs.get("json")
    if isinstance(document, dict) and document.get("connectorId") == "{other}":
        kwargs["json"] = document | {"connectorId": cid(tenant="other-tenant")}
    elif isinstance(document, dict) and document.get("connectorId") == "connector-uuid":
        kwargs["json"] = placed(document)
    before_content = content_snapshot(registry)
    request_headers = {**H, **kwargs.pop("headers", {})}
    response = client.request(method, API + path.format(id=schema_id, cid=cid()),
                              headers=request_headers, **kwargs)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug)
    assert problem["title"] and problem["detail"]
    if status == 422:
        assert problem["errors"] and all({"pointer", "message"} == set(e)
                                         for e in problem["errors"])
    assert content_snapshot(registry) == before_content
    assert client.get(f"{API}/schemas/{schema_id}/history", headers=H).json() == before


def test_a_token_request_that_is_not_utf8_is_a_400(client: Client, registry: Registry) -> None:
    assert client.get("/internal/v1/api-tokens", headers=H).status_code == 200  # issues H's
    before = content_snapshot(registry)
    response = client.post("/internal/v1/api-tokens", content=b'{"name": "caf\xe9"}',
                           headers={**H, **JSON})
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/malformed-request")
    assert content_snapshot(registry) == before


@pytest.mark.parametrize("value", ["TRUE", "True", "true", "1"])
def test_include_deleted_takes_any_case(client: Client, value: str) -> None:
    schema_id = _existing(client)
    client.delete(f"{API}/schemas/{cid()}/{schema_id}", headers=H)
    response = client.get(f"{API}/schemas/{schema_id}", params={"includeDeleted": value},
                          headers=H)
    assert response.status_code == 200, response.text


def test_a_bad_flag_points_at_the_name_the_client_sent(client: Client) -> None:
    response = client.get(f"{API}/schemas", params={"includeDeleted": "maybe"}, headers=H)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/query/includeDeleted"]
