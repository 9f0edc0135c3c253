"""Bearer tokens from an identity provider: JWKS with key rotation, issuer and audience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar.testing import TestClient

from api.app import create_app
from registry.service import Registry
from registry.settings import JwtSettings, Settings
from tests.conftest import Backend
from tests.fixtures import API, Credentials, cid, content_snapshot

ISSUER = "https://idp.example.test/"
AUDIENCE = "connector-schema-registry"


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    document = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())
                          if isinstance(key, rsa.RSAPrivateKey)
                          else jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return document | {"kid": kid, "use": "sig"}


@pytest.fixture
def keys() -> dict[str, Any]:
    return {
        "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec-1": ec.generate_private_key(ec.SECP256R1()),
        "rsa-2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture
def jwks(tmp_path: Path, keys: dict[str, Any]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [_jwk(keys["rsa-1"], "rsa-1"),
                                         _jwk(keys["ec-1"], "ec-1")]}))
    return path


@pytest.fixture
def idp_client(backend: Backend, registry: Registry, jwks: Path) -> Iterator[TestClient[Any]]:
    jwt = JwtSettings(jwks_file=jwks, issuer=ISSUER, audience=AUDIENCE)
    settings = Settings(database_url=backend.url, data_dir=backend.data_dir, jwt=jwt)
    with TestClient(create_app(settings, registry=registry)) as client:
        yield client


def token(keys: dict[str, Any], kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "svc", "tenant": "acme", "roles": ["admin"], "exp": now + 300,
            "iss": ISSUER, "aud": AUDIENCE} | claims
    algorithm = "ES256" if kid.startswith("ec") else "RS256"
    return jwt.encode(body, keys[kid], algorithm=algorithm, headers={"kid": kid})


def call(client: TestClient[Any], bearer: str) -> Any:
    api_token = Credentials.api_token("acme", "idp-app")
    return client.post(f"{API}/schemas", json={
        "name": "IdP", "connectorId": cid("c"), "entityType": "account",
        "fields": [{"name": "id", "type": "string", "primary": True}],
    }, headers={"Authorization": f"Bearer {bearer}", "X-API-Token": api_token})


@pytest.mark.parametrize(
    ("case", "claims", "kid"),
    [
        ("wrong issuer", {"iss": "https://evil.example.test/"}, "rsa-1"),
        ("no issuer", {"iss": None}, "rsa-1"),
        ("wrong audience", {"aud": "another-service"}, "rsa-1"),
        ("unknown kid", {}, "rsa-2"),
    ],
)
def test_tokens_the_provider_did_not_mean_for_us_are_refused(
    idp_client: TestClient[Any], registry: Registry, keys: dict[str, Any], case: str,
    claims: dict[str, Any], kid: str,
) -> None:
    Credentials.api_token("acme", "idp-app")
    cid("c")
    before = content_snapshot(registry)
    claims = {k: v for k, v in claims.items() if v is not None}
    bearer = token(keys, kid, **claims)
    if case == "no issuer":
        bearer = jwt.encode({"sub": "svc", "tenant": "acme", "exp": int(time.time()) + 300,
                             "aud": AUDIENCE}, keys[kid], algorithm="RS256",
                            headers={"kid": kid})
    response = call(idp_client, bearer)
    assert response.status_code == 401, response.text
    assert content_snapshot(registry) == before
    (entry,) = registry.audit.page("acme", actor=None, schema_id=None, before=None, limit=5)
    assert (entry["status"], entry["outcome"], entry["authenticated"]) == (401, "denied", False)


def test_valid_tokens_of_both_key_types_and_rotation(
    idp_client: TestClient[Any], keys: dict[str, Any], jwks: Path
) -> None:
    assert call(idp_client, token(keys, "rsa-1")).status_code == 201
    assert call(idp_client, token(keys, "ec-1")).status_code == 200  # same body: unchanged
    jwks.write_text(json.dumps({"keys": [_jwk(keys["rsa-2"], "rsa-2")]}))
    assert call(idp_client, token(keys, "rsa-1")).status_code == 401
    assert call(idp_client, token(keys, "rsa-2")).status_code == 200


def test_algorithm_confusion_is_refused(idp_client: TestClient[Any], keys: dict[str, Any]) -> None:
    public_pem = keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    claims = {"sub": "svc", "tenant": "acme", "exp": int(time.time()) + 300, "iss": ISSUER,
              "aud": AUDIENCE}
    assert call(idp_client, hs256_by_hand(claims, public_pem, kid="rsa-1")).status_code == 401


def hs256_by_hand(claims: dict[str, Any], key: bytes, kid: str) -> str:
    """An HS256 token keyed with arbitrary bytes (PyJWT refuses to sign with a PEM key)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{part(claims)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
