"""Bearer-token verification: key sources, algorithm pinning, claims, JWKS rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from registry.auth import AuthenticationError, Principal, TokenVerifier, issue_token
from registry.jwt_keys import JwksFile, PublicKeyFile, SharedSecret
from registry.settings import JwtSettings

SECRET = "s" * 40
SECRET_FILE = Path("data/jwt-secret")  # never read: another key wins in these tests
NOW = int(time.time())
DAY = 86400
"""Tokens made when the module is imported must outlive the whole test run."""
CLAIMS: dict[str, Any] = {
    "sub": "user-1", "tenant": "acme", "email": "u@example.com", "roles": ["admin"],
    "exp": NOW + DAY,
}


# --- keys and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_key2() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_pem(path: Path, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(pem(private_key))
    return path


def jwk(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str | None,
        **extra: Any) -> dict[str, Any]:
    if isinstance(private_key, rsa.RSAPrivateKey):
        data = dict(RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    else:
        data = dict(ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    if kid is not None:
        data["kid"] = kid
    return data | extra


def write_jwks(path: Path, *keys: dict[str, Any], bump: bool = True) -> Path:
    """Write the JWKS; ``bump`` moves the mtime on so a rewrite within one clock tick shows."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(json.dumps({"keys": list(keys)}))
    if bump:
        later = max(path.stat().st_mtime_ns, before + 1_000_000_000)
        os.utime(path, ns=(later, later))
    return path


def sign(private_key: Any, algorithm: str, kid: str | None = None, **changes: Any) -> str:
    claims = {k: v for k, v in (CLAIMS | changes).items() if v is not None}
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """An HS256 JWS made by hand, with any bytes as the HMAC key (PyJWT refuses PEM keys)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def unsigned(kid: str | None = None, **changes: Any) -> str:
    header = {"alg": "none", "typ": "JWT"} | ({"kid": kid} if kid else {})
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(CLAIMS | changes).encode())}."


def rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    message = str(caught.value)
    assert len(token) < 8 or token not in message
    for segment in token.split("."):
        assert len(segment) < 8 or segment not in message
    return message


@pytest.fixture
def rsa_verifier(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> TokenVerifier:
    return TokenVerifier.from_settings(
        JwtSettings(public_key_file=write_pem(tmp_path / "rsa.pem", rsa_key))
    )


@pytest.fixture
def ec_verifier(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> TokenVerifier:
    return TokenVerifier.from_settings(
        JwtSettings(public_key_file=write_pem(tmp_path / "ec.pem", ec_key))
    )


@pytest.fixture
def jwks_path(tmp_path: Path, rsa_key: rsa.RSAPrivateKey,
              ec_key: ec.EllipticCurvePrivateKey) -> Path:
    return write_jwks(tmp_path / "jwks.json", jwk(rsa_key, "rsa-1"), jwk(ec_key, "ec-1"))


@pytest.fixture
def jwks_verifier(jwks_path: Path) -> TokenVerifier:
    return TokenVerifier.from_settings(JwtSettings(jwks_file=jwks_path))


# --- existing callers ----------------------------------------------------------------------


def test_shared_secret_verifier_still_takes_issued_tokens() -> None:
    token = issue_token(SECRET, tenant="acme", subject="u", email="e@x.io", roles=["r"])
    assert TokenVerifier(SECRET).verify(token) == Principal("u", "acme", "e@x.io", ("r",))


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenVerifier("short")


def test_verifier_needs_exactly_one_key_source() -> None:
    with pytest.raises(ValueError, match="either a secret or a key source"):
        TokenVerifier()
    with pytest.raises(ValueError, match="either a secret or a key source"):
        TokenVerifier(SECRET, keys=SharedSecret(SECRET))


# --- algorithms follow the key ------------------------------------------------------------


def test_rsa_public_key_verifies_rs256(rsa_verifier: TokenVerifier,
                                       rsa_key: rsa.RSAPrivateKey) -> None:
    principal = rsa_verifier.verify(sign(rsa_key, "RS256"))
    assert principal == Principal("user-1", "acme", "u@example.com", ("admin",))


def test_ec_public_key_verifies_es256(ec_verifier: TokenVerifier,
                                      ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert ec_verifier.verify(sign(ec_key, "ES256")).tenant == "acme"


@pytest.mark.parametrize("algorithm", ["RS384", "RS512", "PS256"])
def test_rsa_verifier_accepts_only_rs256(rsa_verifier: TokenVerifier,
                                         rsa_key: rsa.RSAPrivateKey, algorithm: str) -> None:
    assert "expects RS256" in rejected(rsa_verifier, sign(rsa_key, algorithm))


def test_ec_verifier_accepts_only_es256(ec_verifier: TokenVerifier,
                                        rsa_key: rsa.RSAPrivateKey) -> None:
    assert "expects ES256" in rejected(ec_verifier, sign(rsa_key, "RS256"))


def test_secret_verifier_accepts_only_hs256(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(SECRET)
    assert "expects HS256" in rejected(verifier, sign(rsa_key, "RS256"))
    assert "expects HS256" in rejected(verifier, sign("h" * 64, "HS512"))


@pytest.mark.parametrize("name", ["secret", "rsa", "ec", "jwks"])
def test_alg_none_is_rejected(name: str, request: pytest.FixtureRequest) -> None:
    verifier = (TokenVerifier(SECRET) if name == "secret"
                else request.getfixturevalue(f"{name}_verifier"))
    assert "algorithm is not allowed" in rejected(verifier, unsigned(kid="rsa-1"))


def test_hs256_signed_with_the_public_pem_fails_against_rs256(
    rsa_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    forged = raw_token({"alg": "HS256", "typ": "JWT"}, CLAIMS, pem(rsa_key))
    assert "expects RS256" in rejected(rsa_verifier, forged)


def test_hs256_signed_with_the_jwk_fails_against_jwks(
    jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    for secret in (pem(rsa_key), json.dumps(jwk(rsa_key, "rsa-1")).encode()):
        forged = raw_token({"alg": "HS256", "kid": "rsa-1"}, CLAIMS, secret)
        assert "expects RS256" in rejected(jwks_verifier, forged)


def test_rs256_token_fails_against_hs256_verifier(rsa_key: rsa.RSAPrivateKey) -> None:
    assert "expects HS256" in rejected(TokenVerifier(SECRET), sign(rsa_key, "RS256"))


def test_signature_by_another_key_is_rejected(
    rsa_verifier: TokenVerifier, rsa_key2: rsa.RSAPrivateKey
) -> None:
    assert "signature is invalid" in rejected(rsa_verifier, sign(rsa_key2, "RS256"))


# --- time claims ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["secret", "rsa"])
def test_exp_is_required(name: str, request: pytest.FixtureRequest,
                         rsa_key: rsa.RSAPrivateKey) -> None:
    if name == "secret":
        verifier, token = TokenVerifier(SECRET), sign(SECRET, "HS256", exp=None)
    else:
        verifier, token = request.getfixturevalue("rsa_verifier"), sign(rsa_key, "RS256", exp=None)
    assert "no 'exp' claim" in rejected(verifier, token)


def test_exp_is_checked_with_the_leeway(rsa_verifier: TokenVerifier,
                                        rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    assert rsa_verifier.verify(sign(rsa_key, "RS256", exp=now - 10)).subject == "user-1"
    assert "expired" in rejected(rsa_verifier, sign(rsa_key, "RS256", exp=now - 60))


def test_nbf_is_checked_with_the_leeway(rsa_verifier: TokenVerifier,
                                        rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    assert rsa_verifier.verify(sign(rsa_key, "RS256", nbf=now + 10)).subject == "user-1"
    assert "not valid yet" in rejected(rsa_verifier, sign(rsa_key, "RS256", nbf=now + 120))


def test_leeway_is_configurable(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = JwtSettings(public_key_file=write_pem(tmp_path / "k.pem", rsa_key),
                           leeway_seconds=0)
    verifier, now = TokenVerifier.from_settings(settings), int(time.time())
    assert "expired" in rejected(verifier, sign(rsa_key, "RS256", exp=now - 5))
    assert "not valid yet" in rejected(verifier, sign(rsa_key, "RS256", nbf=now + 5))


def test_non_numeric_exp_is_rejected() -> None:
    assert "malformed" in rejected(TokenVerifier(SECRET), sign(SECRET, "HS256", exp="tomorrow"))


# --- issuer and audience -------------------------------------------------------------------


def test_iss_and_aud_absent_are_fine_when_not_configured(rsa_verifier: TokenVerifier,
                                                          rsa_key: rsa.RSAPrivateKey) -> None:
    assert rsa_verifier.verify(sign(rsa_key, "RS256")).tenant == "acme"
    assert rsa_verifier.verify(sign(rsa_key, "RS256", iss="anyone")).tenant == "acme"


def test_aud_in_token_without_configured_audience_is_rejected(
    rsa_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    message = rejected(rsa_verifier, sign(rsa_key, "RS256", aud="other-service"))
    assert "no audience is configured" in message


@pytest.fixture
def strict_verifier(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> TokenVerifier:
    return TokenVerifier.from_settings(JwtSettings(
        public_key_file=write_pem(tmp_path / "k.pem", rsa_key),
        issuer="https://idp.example.com/", audience="schema-registry",
    ))


def test_configured_iss_and_aud_accept_matching_tokens(strict_verifier: TokenVerifier,
                                                        rsa_key: rsa.RSAPrivateKey) -> None:
    token = sign(rsa_key, "RS256", iss="https://idp.example.com/",
                 aud=["schema-registry", "other"])
    assert strict_verifier.verify(token).subject == "user-1"


@pytest.mark.parametrize(("changes", "reason"), [
    ({"aud": "schema-registry"}, "no 'iss' claim"),
    ({"iss": "https://idp.example.com/"}, "no 'aud' claim"),
    ({"iss": "https://evil.example.com/", "aud": "schema-registry"}, "issuer ('iss')"),
    ({"iss": "https://idp.example.com/", "aud": "other"}, "audience ('aud')"),
])
def test_configured_iss_and_aud_are_required_and_checked(
    strict_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey,
    changes: dict[str, Any], reason: str,
) -> None:
    assert reason in rejected(strict_verifier, sign(rsa_key, "RS256", **changes))


# --- JWKS ----------------------------------------------------------------------------------


def test_jwks_picks_the_key_by_kid(jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey,
                                   ec_key: ec.EllipticCurvePrivateKey) -> None:
    assert jwks_verifier.verify(sign(rsa_key, "RS256", kid="rsa-1")).subject == "user-1"
    assert jwks_verifier.verify(sign(ec_key, "ES256", kid="ec-1")).subject == "user-1"


def test_jwks_pins_the_algorithm_of_each_key(jwks_verifier: TokenVerifier,
                                             rsa_key: rsa.RSAPrivateKey) -> None:
    assert "expects ES256" in rejected(jwks_verifier, sign(rsa_key, "RS256", kid="ec-1"))


def test_unknown_kid_is_rejected(jwks_verifier: TokenVerifier,
                                 rsa_key: rsa.RSAPrivateKey) -> None:
    assert "unknown" in rejected(jwks_verifier, sign(rsa_key, "RS256", kid="nope"))


def test_missing_kid_with_several_keys_is_rejected(jwks_verifier: TokenVerifier,
                                                   rsa_key: rsa.RSAPrivateKey) -> None:
    assert "no 'kid'" in rejected(jwks_verifier, sign(rsa_key, "RS256"))


def test_missing_kid_with_a_single_key_uses_it(tmp_path: Path,
                                               rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "one.json", jwk(rsa_key, "only"))
    verifier = TokenVerifier.from_settings(JwtSettings(jwks_file=path))
    assert verifier.verify(sign(rsa_key, "RS256")).subject == "user-1"


def test_encryption_keys_are_skipped(tmp_path: Path, rsa_key: rsa.RSAPrivateKey,
                                     rsa_key2: rsa.RSAPrivateKey) -> None:
    path = write_jwks(tmp_path / "k.json", jwk(rsa_key, "sig", use="sig"),
                      jwk(rsa_key2, "enc", use="enc"))
    assert JwksFile(path).key_ids() == ["sig"]


def test_rotation_takes_effect_without_a_new_verifier(
    jwks_path: Path, jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey,
    rsa_key2: rsa.RSAPrivateKey,
) -> None:
    old, new = sign(rsa_key, "RS256", kid="rsa-1"), sign(rsa_key2, "RS256", kid="rsa-2")
    assert jwks_verifier.verify(old).subject == "user-1"
    assert "unknown" in rejected(jwks_verifier, new)
    write_jwks(jwks_path, jwk(rsa_key2, "rsa-2"))
    assert jwks_verifier.verify(new).subject == "user-1"
    assert "unknown" in rejected(jwks_verifier, old)


def test_rotation_by_atomic_replace(jwks_path: Path, jwks_verifier: TokenVerifier,
                                    rsa_key2: rsa.RSAPrivateKey) -> None:
    staged = write_jwks(jwks_path.with_suffix(".new"), jwk(rsa_key2, "rsa-2"), bump=False)
    os.replace(staged, jwks_path)
    assert jwks_verifier.verify(sign(rsa_key2, "RS256", kid="rsa-2")).subject == "user-1"


def test_a_broken_rewrite_keeps_the_previous_keys(
    jwks_path: Path, jwks_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey,
    rsa_key2: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture,
) -> None:
    jwks_path.write_text('{"keys": [')
    os.utime(jwks_path, ns=(time.time_ns() + 5 * 10**9,) * 2)
    with caplog.at_level(logging.ERROR, logger="registry.auth"):
        assert jwks_verifier.verify(sign(rsa_key, "RS256", kid="rsa-1")).subject == "user-1"
    assert "previous keys stay in use" in caplog.text
    write_jwks(jwks_path, jwk(rsa_key2, "rsa-2"))
    assert "unknown" in rejected(jwks_verifier, sign(rsa_key, "RS256", kid="rsa-1"))


# --- malformed tokens ----------------------------------------------------------------------


@pytest.mark.parametrize("token", [
    "", "garbage", "not.a.jwt", "a.b", "....",
    f"{b64(b'not json')}.{b64(b'{}')}.sig",
    f"{b64(b'[1, 2]')}.{b64(b'{}')}.sig",
    f"{b64(json.dumps({'alg': 'HS256', 'kid': 42}).encode())}.{b64(b'{}')}.sig",
    f"{b64(json.dumps({'alg': 'HS256', 'crit': ['secret-ext']}).encode())}.{b64(b'{}')}.sig",
])
@pytest.mark.parametrize("name", ["secret", "rsa", "jwks"])
def test_malformed_tokens_are_rejected_without_echo(
    token: str, name: str, request: pytest.FixtureRequest
) -> None:
    verifier = (TokenVerifier(SECRET) if name == "secret"
                else request.getfixturevalue(f"{name}_verifier"))
    assert "malformed" in rejected(verifier, token)


def test_a_bad_payload_is_reported_without_echo() -> None:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(b'secret-stuff-here')}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    message = rejected(TokenVerifier(SECRET), f"{signing_input}.{b64(mac)}")
    assert "secret-stuff" not in message


def test_groups_are_read_from_the_token(rsa_verifier: TokenVerifier,
                                        rsa_key: rsa.RSAPrivateKey) -> None:
    assert rsa_verifier.verify(sign(rsa_key, "RS256", groups=["a", "b"])).groups == ("a", "b")
    assert rsa_verifier.verify(sign(rsa_key, "RS256")).groups == ()


@pytest.mark.parametrize(("changes", "reason"), [
    ({"sub": None}, "no 'sub' claim"),
    ({"tenant": ""}, "'tenant' claim must be a non-empty string"),
    ({"sub": 42}, "'sub' claim must be a non-empty string"),
    ({"roles": "admin"}, "'roles' claim must be a list of strings"),
    ({"groups": "team-a"}, "'groups' claim must be a list of strings"),
    ({"groups": ["team-a", 7]}, "'groups' claim must be a list of strings"),
])
def test_identity_claims_are_checked_for_every_key_type(
    rsa_verifier: TokenVerifier, rsa_key: rsa.RSAPrivateKey,
    changes: dict[str, Any], reason: str,
) -> None:
    assert reason in rejected(rsa_verifier, sign(rsa_key, "RS256", **changes))


# --- settings ------------------------------------------------------------------------------


def test_from_env_defaults_to_the_secret_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt-secret"
    settings = JwtSettings.from_env({}, secret_file=secret_file)
    assert settings == JwtSettings(secret_file=secret_file)
    with pytest.raises(ValueError, match="no signing secret"):
        settings.key_source()  # reading settings creates nothing
    assert not secret_file.exists()
    secret_file.write_text(SECRET + "\n")
    assert SECRET not in repr(settings)
    token = issue_token(SECRET, tenant="t", subject="s")
    assert TokenVerifier.from_settings(settings).verify(token).tenant == "t"


def test_from_env_reads_every_variable(jwks_path: Path) -> None:
    env = {
        "REGISTRY_JWT_JWKS_FILE": str(jwks_path),
        "REGISTRY_JWT_ISSUER": "https://idp/",
        "REGISTRY_JWT_AUDIENCE": "registry",
        "REGISTRY_JWT_LEEWAY": "5",
    }
    assert JwtSettings.from_env(env) == JwtSettings(
        jwks_file=jwks_path, issuer="https://idp/", audience="registry", leeway_seconds=5
    )


def test_from_env_precedence(tmp_path: Path, jwks_path: Path,
                             rsa_key: rsa.RSAPrivateKey, caplog: pytest.LogCaptureFixture) -> None:
    pem_path = write_pem(tmp_path / "k.pem", rsa_key)
    env = {"REGISTRY_JWT_JWKS_FILE": str(jwks_path), "REGISTRY_JWT_PUBLIC_KEY_FILE": str(pem_path),
           "REGISTRY_JWT_SECRET": "x" * 40}
    with caplog.at_level(logging.WARNING, logger="registry.auth"):
        assert JwtSettings.from_env(env, SECRET_FILE) == JwtSettings(jwks_file=jwks_path)
    assert "REGISTRY_JWT_PUBLIC_KEY_FILE is ignored" in caplog.text
    del env["REGISTRY_JWT_JWKS_FILE"]
    assert JwtSettings.from_env(env, SECRET_FILE) == JwtSettings(public_key_file=pem_path)
    del env["REGISTRY_JWT_PUBLIC_KEY_FILE"]
    assert JwtSettings.from_env(env, SECRET_FILE) == JwtSettings(secret="x" * 40)


@pytest.mark.parametrize("env", [{}, {"REGISTRY_JWT_SECRET": ""}])
def test_from_env_without_any_key_fails(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="no JWT verification key"):
        JwtSettings.from_env(env).key_source()


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_from_env_rejects_a_bad_leeway(value: str) -> None:
    with pytest.raises(ValueError, match="REGISTRY_JWT_LEEWAY"):
        JwtSettings.from_env({"REGISTRY_JWT_LEEWAY": value}, SECRET_FILE)


def test_from_env_rejects_a_short_secret() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JwtSettings.from_env({"REGISTRY_JWT_SECRET": "short"}).key_source()


@pytest.mark.parametrize("variable", ["REGISTRY_JWT_PUBLIC_KEY_FILE", "REGISTRY_JWT_JWKS_FILE"])
def test_from_env_rejects_an_unreadable_key_file(tmp_path: Path, variable: str) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ValueError, match=r"cannot read the JWT .* file .*missing"):
        JwtSettings.from_env({variable: str(missing)}, SECRET_FILE).key_source()


def _private_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


@pytest.mark.parametrize(("content", "reason"), [
    (lambda k: b"not a key", "not a PEM public key"),
    (_private_pem, "not a PEM public key"),
    (lambda k: pem(rsa.generate_private_key(65537, 1024)), "1024 bits"),
    (lambda k: pem(ec.generate_private_key(ec.SECP384R1())), "RSA or EC P-256"),
])
def test_from_env_rejects_an_invalid_public_key(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, content: Any, reason: str
) -> None:
    path = tmp_path / "k.pem"
    path.write_bytes(content(rsa_key))
    with pytest.raises(ValueError, match=reason):
        JwtSettings.from_env({"REGISTRY_JWT_PUBLIC_KEY_FILE": str(path)}).key_source()


def _bad_jwks(rsa_key: rsa.RSAPrivateKey) -> list[tuple[Any, str]]:
    p384 = jwk(ec.generate_private_key(ec.SECP384R1()), "p384")
    private = dict(RSAAlgorithm.to_jwk(rsa_key, as_dict=True)) | {"kid": "priv"}
    return [
        ("not json", "not valid JSON"),
        ([], "object with a 'keys' list"),
        ({"keys": []}, "no signing keys"),
        ({"keys": [jwk(rsa_key, "a"), jwk(rsa_key, None)]}, "has no 'kid'"),
        ({"keys": [jwk(rsa_key, "a"), jwk(rsa_key, "a")]}, "appears twice"),
        ({"keys": [jwk(rsa_key, "a", alg="RS512")]}, "'alg' must be RS256"),
        ({"keys": [jwk(rsa_key, "a", alg="HS256")]}, "'alg' must be RS256"),
        ({"keys": [{"kty": "oct", "kid": "s", "k": b64(b"x" * 32)}]}, "unsupported key type"),
        ({"keys": [private]}, "private key"),
        ({"keys": [p384]}, "must be an RSA or EC P-256 public key"),
        ({"keys": [{"kty": "RSA", "kid": "broken", "n": "AQAB"}]}, "not a valid RSA"),
    ]


def test_from_env_rejects_invalid_jwks_files(tmp_path: Path,
                                             rsa_key: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "jwks.json"
    for document, reason in _bad_jwks(rsa_key):
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        with pytest.raises(ValueError, match=reason):
            JwtSettings.from_env({"REGISTRY_JWT_JWKS_FILE": str(path)}, SECRET_FILE).key_source()


def test_key_sources_can_be_used_directly(tmp_path: Path,
                                          ec_key: ec.EllipticCurvePrivateKey) -> None:
    source = PublicKeyFile(write_pem(tmp_path / "ec.pem", ec_key))
    assert source.key_for({"kid": "ignored"}).algorithm == "ES256"
    verifier = TokenVerifier(keys=source, leeway_seconds=0)
    assert verifier.verify(sign(ec_key, "ES256")).subject == "user-1"
