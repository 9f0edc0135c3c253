"""Start-up checks that need no subprocess: the listen-address probe and the secret file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from registry.settings import JwtSettings
from registry.startup import StartupError, check_listen, ensure_signing_secret


def test_a_port_with_connections_of_an_earlier_run_in_time_wait_is_free() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end stays in TIME_WAIT
    client.close()
    listener.close()
    check_listen("127.0.0.1", port)  # a plain bind would fail here with EADDRINUSE


def test_a_listening_port_is_refused_even_for_the_wildcard_address() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(StartupError, match=f"port {port} is already in use"):
            check_listen("0.0.0.0", port)


def test_the_signing_secret_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    settings = JwtSettings(secret_file=tmp_path / "jwt-secret")
    ensure_signing_secret(settings)
    secret = settings.signing_secret()
    assert len(secret) >= 32
    assert oct((tmp_path / "jwt-secret").stat().st_mode & 0o777) == "0o600"
    ensure_signing_secret(settings)
    assert settings.signing_secret() == secret


def test_no_secret_file_is_made_when_another_key_is_configured(tmp_path: Path) -> None:
    ensure_signing_secret(JwtSettings(secret="x" * 40, secret_file=tmp_path / "a"))
    ensure_signing_secret(JwtSettings(jwks_file=tmp_path / "jwks.json",
                                      secret_file=tmp_path / "b"))
    assert list(tmp_path.iterdir()) == []
