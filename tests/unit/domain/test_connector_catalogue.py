"""The connector-type catalogue: valid JSON Schema documents, strict rules, exact pointers."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from domain.connectors.catalogue import (
    get_type,
    list_types,
    validate_config,
    validate_credentials,
)
from domain.connectors.document import connector_document_schema, validate_connector

REQUIRED_TYPES = {"s3", "google_drive", "confluence", "github", "slack", "notion", "salesforce",
                  "postgresql", "universal"}


def seed_s3() -> dict[str, Any]:
    return {
        "name": "Document Storage",
        "type": "s3",
        "collection": "col_abc123",
        "config": {"bucket": "my-documents", "region": "us-east-1", "prefix": "/documents/"},
        "credentials": {"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
                        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
    }


def pointers(violations: list[Any]) -> list[str]:
    return [v.pointer for v in violations]


def test_the_catalogue_has_every_type_and_unknown_types_are_none() -> None:
    assert {entry.type for entry in list_types()} >= REQUIRED_TYPES
    assert get_type("ftp") is None
    assert get_type("google_drive").oauth is True  # type: ignore[union-attr]
    assert get_type("s3").mode == "FILE_SYSTEM"  # type: ignore[union-attr]
    assert get_type("postgresql").mode == "DATABASE"  # type: ignore[union-attr]


@pytest.mark.parametrize("entry", list_types(), ids=lambda e: e.type)
def test_every_schema_is_valid_2020_12_and_strict(entry: Any) -> None:
    for schema in (entry.config_schema, entry.credentials_schema):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
    assert entry.config_schema["additionalProperties"] is False
    document = entry.to_document()
    assert set(document) == {"type", "name", "description", "mode", "protocol", "authTypes",
                             "oauth", "oauthScopes", "configSchema", "credentialsSchema"}


def _secrets(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.get("properties", {}).items():
            if isinstance(value, dict) and value.get("writeOnly"):
                found.add(key)
        for value in schema.values():
            found |= _secrets(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _secrets(value)
    return found


def test_secrets_are_write_only() -> None:
    expect = {"s3": {"secretAccessKey", "sessionToken"}, "confluence": {"apiToken"},
              "github": {"token"}, "slack": {"botToken"}, "postgresql": {"password"},
              "salesforce": {"accessToken", "refreshToken", "password", "securityToken"},
              "universal": {"apiKey", "password", "token", "clientSecret", "accessToken",
                            "refreshToken"}}
    for type_name, names in expect.items():
        entry = get_type(type_name)
        assert entry is not None
        assert _secrets(entry.credentials_schema) == names, type_name


def test_the_seed_s3_create_body_validates() -> None:
    assert validate_connector(seed_s3()) == []
    Draft202012Validator.check_schema(connector_document_schema())


def test_wrong_types_and_unknown_keys_point_at_the_offending_key() -> None:
    config = {"bucket": 42, "region": "us-east-1", "color": "red"}
    assert pointers(validate_config("s3", config)) == ["/config/color", "/config/bucket"]
    credentials = {"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": 7, "x": 1}
    assert pointers(validate_credentials("s3", credentials)) == [
        "/credentials/x", "/credentials/secretAccessKey"]
    document = {**seed_s3(), "colour": "red"}
    assert pointers(validate_connector(document)) == ["/colour"]
    document = seed_s3()
    del document["credentials"]["secretAccessKey"]
    assert [(v.pointer, v.message) for v in validate_connector(document)] == [
        ("/credentials", "'secretAccessKey' is a required property")]


@pytest.mark.parametrize(("type_name", "config", "pointer"), [
    ("s3", {"bucket": "Bad_Bucket", "region": "us-east-1"}, "/config/bucket"),
    ("s3", {"bucket": "ok-bucket", "region": "us-east-1", "endpoint": "ftp://x"},
     "/config/endpoint"),
    ("confluence", {"instanceUrl": "http://example.atlassian.net", "spaceKeys": ["ENG"]},
     "/config/instanceUrl"),
    ("confluence", {"instanceUrl": "https://example.atlassian.net", "spaceKeys": []},
     "/config/spaceKeys"),
    ("github", {"repos": ["not a repo"]}, "/config/repos/0"),
    ("slack", {"channels": ["#general"], "dateRange": {"from": "2024-13-01"}},
     "/config/dateRange/from"),
    ("slack", {"channels": ["#general"], "dateRange": {"from": "2024-02-01", "to": "2024-01-01"}},
     "/config/dateRange/to"),
    ("postgresql", {"host": "db", "database": "crm", "port": 70000}, "/config/port"),
    ("universal", {"baseUrl": "https://api.example.com", "allowedHosts": ["bad host"]},
     "/config/allowedHosts/0"),
    ("universal", {"baseUrl": "https://api.example.com", "allowedHosts": ["api.example.com"],
                   "connectionVariables": [{"name": "tenant", "value": "v"}]},
     "/config/connectionVariables"),
    ("s3", {"bucket": "my-documents\n", "region": "us-east-1"}, "/config/bucket"),
])
def test_config_rules(type_name: str, config: dict[str, Any], pointer: str) -> None:
    assert pointers(validate_config(type_name, config)) == [pointer]


def test_valid_configs_of_each_type() -> None:
    valid = {
        "google_drive": {}, "notion": {},
        "confluence": {"instanceUrl": "https://example.atlassian.net", "spaceKeys": ["ENG", "~me"]},
        "github": {"repos": ["octo/hello-world"], "branch": "main", "pathFilter": "docs/**/*.md"},
        "slack": {"channels": ["#general", "C0123456789"],
                  "dateRange": {"from": "2024-01-01", "to": "2024-02-01"}},
        "salesforce": {"objects": ["Account", "Custom__c"], "soqlFilter": "IsDeleted = false"},
        "postgresql": {"host": "db.internal", "port": 5432, "database": "crm",
                       "schema": "public"},
        "universal": {"baseUrl": "https://api.example.com", "allowedHosts": ["*.example.com"],
                      "timeoutSeconds": 10},
    }
    for type_name, config in valid.items():
        assert validate_config(type_name, config) == [], type_name


def test_credentials_per_auth_type() -> None:
    assert validate_credentials("universal", {"authType": "none"}) == []
    assert validate_credentials("universal", {"authType": "bearer", "token": "t"}) == []
    assert pointers(validate_credentials("universal", {"authType": "basic", "username": "u",
                                                       "extra": 1})) == [
        "/credentials/extra", "/credentials"]
    assert pointers(validate_credentials("universal", {"token": "t"})) == ["/credentials"]
    assert pointers(validate_credentials("universal", {"authType": "kerberos"})) == [
        "/credentials/authType"]
    password = {"authType": "password", "username": "u", "password": "p", "securityToken": "s"}
    assert validate_credentials("salesforce", password) == []
    assert validate_credentials("salesforce", {"authType": "oauth2", "accessToken": "a"}) == []
    assert pointers(validate_credentials("slack", {"botToken": "xoxp-user"})) == [
        "/credentials/botToken"]
    assert pointers(validate_credentials("postgresql", {"username": "u", "password": "p",
                                                        "sslmode": "maybe"})) == [
        "/credentials/sslmode"]


def test_an_unknown_type_is_one_violation_at_type() -> None:
    assert [(v.pointer, v.message) for v in validate_config("ftp", {})] == [
        ("/type", "unknown connector type 'ftp'")]
    assert pointers(validate_connector({**seed_s3(), "type": "ftp"})) == ["/type"]
