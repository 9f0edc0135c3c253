"""The connector-type catalogue API through the real Litestar app, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from litestar.testing import TestClient

from domain.connectors.catalogue import get_type
from registry.auth import ROLES
from tests.fixtures import headers, jwt_only

Client = TestClient[Any]
H = headers()
TYPES = "/internal/v1/connector-types"

DOCUMENTED_CONFIG = {
    "s3": {"bucket", "region", "prefix", "endpoint"},
    "google_drive": {"folderId"},
    "confluence": {"instanceUrl", "spaceKeys"},
    "github": {"repos", "branch", "pathFilter"},
    "slack": {"channels", "dateRange"},
    "notion": {"pageIds"},
    "salesforce": {"objects", "soqlFilter"},
    "postgresql": {"host", "port", "database", "schema"},
    "universal": {"baseUrl"},
}
"""Config fields the catalogue documents for each type (docs/connectors.md and the seed)."""
SECRETS = {"secretAccessKey", "sessionToken", "apiToken", "token", "botToken", "password",
           "securityToken", "accessToken", "refreshToken", "apiKey", "clientSecret"}
KEYS = {"type", "name", "description", "mode", "protocol", "authTypes", "oauth", "oauthScopes",
        "configSchema", "credentialsSchema"}


def problem_type(response: Any) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def properties(schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every named property of a schema, in nested objects and ``if``/``then`` branches too."""
    if isinstance(schema, dict):
        yield from schema.get("properties", {}).items()
        for value in schema.values():
            yield from properties(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from properties(item)


def listed(client: Client) -> dict[str, dict[str, Any]]:
    response = client.get(TYPES, headers=H)
    assert response.status_code == 200, response.text
    return {entry["type"]: entry for entry in response.json()["connectorTypes"]}


def test_the_list_holds_every_documented_type_with_its_config_fields(client: Client) -> None:
    types = listed(client)
    assert set(types) >= set(DOCUMENTED_CONFIG)
    for name, fields in DOCUMENTED_CONFIG.items():
        entry = types[name]
        assert set(entry) == KEYS, name
        assert entry["mode"] in ("FILE_SYSTEM", "DATABASE", "API")
        assert set(entry["configSchema"]["properties"]) >= fields, name
    assert types["s3"]["mode"] == "FILE_SYSTEM" and types["postgresql"]["mode"] == "DATABASE"
    assert types["google_drive"]["oauth"] is True
    assert types["google_drive"]["oauthScopes"] == [
        "https://www.googleapis.com/auth/drive.readonly"]
    assert types["salesforce"]["authTypes"] == ["oauth2", "password"]
    assert types["s3"]["oauth"] is False and types["s3"]["oauthScopes"] == []


def test_every_schema_is_a_valid_2020_12_document_with_secrets_write_only(
    client: Client,
) -> None:
    for name, entry in listed(client).items():
        for part in ("configSchema", "credentialsSchema"):
            Draft202012Validator.check_schema(entry[part])
            assert entry[part]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        credentials = list(properties(entry["credentialsSchema"]))
        assert all(sub.get("writeOnly") is True
                   for field, sub in credentials if field in SECRETS), name
        assert all(not sub.get("writeOnly") for _, sub in properties(entry["configSchema"]))
    assert listed(client)["s3"]["credentialsSchema"]["properties"]["secretAccessKey"][
        "writeOnly"] is True


def test_one_type_is_exactly_the_catalogue_entry(client: Client) -> None:
    response = client.get(f"{TYPES}/confluence", headers=H)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    entry = get_type("confluence")
    assert entry is not None
    assert response.json() == entry.to_document()
    assert response.json() == listed(client)["confluence"]
    assert response.json()["configSchema"]["required"] == ["instanceUrl", "spaceKeys"]


@pytest.mark.parametrize("name", ["ftp", "S3", "s3x", "%20"])
def test_an_unknown_type_is_a_404_problem_that_does_not_echo_it(
    client: Client, name: str
) -> None:
    response = client.get(f"{TYPES}/{name}", headers=H)
    assert response.status_code == 404
    assert problem_type(response) == "connector-type-not-found"
    assert name not in response.json()["detail"]


def test_bodies_carry_a_hash_etag_and_answer_if_none_match_with_304(client: Client) -> None:
    first = client.get(f"{TYPES}/s3", headers=H)
    tag = first.headers["etag"]
    assert tag.startswith('"') and len(tag) == 34
    assert first.headers["cache-control"] == "private, max-age=300"
    assert client.get(f"{TYPES}/s3", headers=H).headers["etag"] == tag
    assert client.get(f"{TYPES}/github", headers=H).headers["etag"] != tag
    for sent in (tag, f"W/{tag}", f'"0", {tag}', "*"):
        again = client.get(f"{TYPES}/s3", headers={**H, "If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert again.headers["cache-control"] == "private, max-age=300"
    for stale in ('"0123456789abcdef0123456789abcdef"', "garbage", f'{tag}x'):
        assert client.get(f"{TYPES}/s3", headers={**H, "If-None-Match": stale}).status_code == 200


def test_the_list_has_its_own_etag_and_304(client: Client) -> None:
    first = client.get(TYPES, headers=H)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, max-age=300"
    assert tag not in {client.get(f"{TYPES}/{t}", headers=H).headers["etag"]
                       for t in DOCUMENTED_CONFIG}
    assert client.get(TYPES, headers={**H, "If-None-Match": tag}).status_code == 304


@pytest.mark.parametrize("role", ROLES)
def test_every_role_can_read(client: Client, role: str) -> None:
    caller = headers(roles=(role,), subject=f"{role}-user")
    assert client.get(TYPES, headers=caller).status_code == 200
    assert client.get(f"{TYPES}/slack", headers=caller).status_code == 200


def test_the_catalogue_is_the_same_for_every_tenant(client: Client) -> None:
    ours = client.get(TYPES, headers=H)
    theirs = client.get(TYPES, headers=headers(tenant="globex"))
    assert theirs.status_code == 200
    assert theirs.content == ours.content and theirs.headers["etag"] == ours.headers["etag"]


@pytest.mark.parametrize("path", [TYPES, f"{TYPES}/s3", f"{TYPES}/ftp"])
def test_both_credentials_are_needed(client: Client, path: str) -> None:
    for sent in ({}, jwt_only()):
        response = client.get(path, headers=sent)
        assert response.status_code == 401
        assert problem_type(response) == "unauthenticated"
        assert response.headers["www-authenticate"] == 'Bearer realm="registry"'


def test_no_role_is_forbidden(client: Client) -> None:
    response = client.get(TYPES, headers=headers(roles=()))
    assert response.status_code == 403
    assert problem_type(response) == "forbidden"
