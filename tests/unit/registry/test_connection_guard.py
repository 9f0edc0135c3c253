"""The address guard and the message scrubber of connection tests (no network needed)."""

from __future__ import annotations

import ipaddress

import pytest

from registry.connection.errors import ConnectionFailedError, TargetNotAllowedError
from registry.connection.guard import TargetGuard, forbidden, refuse_forbidden
from registry.connection.safety import MAX_MESSAGE, safe_message, secret_values
from registry.settings import ConnectionSettings, SettingsError

REFUSED = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1",
           "169.254.169.254", "fe80::1", "fc00::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::",
           "240.0.0.1", "100.64.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "192.0.2.1"]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_forbidden(address: str) -> None:
    assert forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_not(address: str) -> None:
    assert not forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "10.0.0.7"])
def test_the_guard_refuses_a_loopback_or_private_target_unless_allowed(host: str) -> None:
    with pytest.raises(TargetNotAllowedError):
        TargetGuard(allow_private=False).address(host, 443)
    assert ipaddress.ip_address(TargetGuard(allow_private=True).address(host, 443))


def test_a_public_literal_is_connected_to_as_checked() -> None:
    assert TargetGuard().addresses("8.8.8.8", 53) == ["8.8.8.8"]


def test_a_host_that_does_not_resolve_is_a_failed_connection() -> None:
    with pytest.raises(ConnectionFailedError, match="cannot resolve"):
        TargetGuard().address("no-such-host.invalid", 443)


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")
    refuse_forbidden("public.example", [public])
    with pytest.raises(TargetNotAllowedError, match=r"10\.0\.0\.1"):
        refuse_forbidden("mixed.example", [public, private])


def test_messages_never_hold_a_credential_value() -> None:
    credentials = {"authType": "basic", "username": "svc", "password": "p@ss word/1"}
    secrets = secret_values(credentials)
    text = ("bad p@ss word/1, p%40ss%20word%2F1, p%40ss+word%2F1, Basic "
            "c3ZjOnBAc3Mgd29yZC8x\x00\nfor svc (basic)")
    safe = safe_message(text, secrets)
    assert "p@ss" not in safe and "p%40ss" not in safe and "c3ZjOnBAc3Mgd29yZC8x" not in safe
    assert "\x00" not in safe and "\n" not in safe
    assert "svc" in safe and "basic" in safe
    assert len(safe_message("x" * 5000, secrets)) == MAX_MESSAGE


@pytest.mark.parametrize(("env", "expected"), [
    ({}, ConnectionSettings()),
    ({"REGISTRY_TEST_TIMEOUT_SECONDS": "2.5", "REGISTRY_ALLOW_PRIVATE_TARGETS": "true",
      "REGISTRY_API_BASE_SLACK": "https://slack.internal/api/"},
     ConnectionSettings(timeout_seconds=2.5, allow_private_targets=True,
                        api_bases={"slack": "https://slack.internal/api"})),
])
def test_connection_settings_from_the_environment(env: dict[str, str],
                                                  expected: ConnectionSettings) -> None:
    assert ConnectionSettings.from_env(env) == expected


@pytest.mark.parametrize("env", [{"REGISTRY_TEST_TIMEOUT_SECONDS": "0"},
                                 {"REGISTRY_TEST_TIMEOUT_SECONDS": "soon"},
                                 {"REGISTRY_ALLOW_PRIVATE_TARGETS": "maybe"}])
def test_bad_connection_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        ConnectionSettings.from_env(env)
