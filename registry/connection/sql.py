"""The PostgreSQL connection test: connect with psycopg to the checked address, ``SELECT 1``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import psycopg

from registry.connection.errors import (
    ConnectionFailedError,
    ConnectionTimeoutError,
    CredentialsRefusedError,
)
from registry.connection.guard import TargetGuard
from registry.connection.safety import safe_message

REFUSED_STATES = frozenset({"28P01", "28000"})
"""invalid_password, invalid_authorization_specification."""
MIN_CONNECT_TIMEOUT = 2
"""libpq treats a connect_timeout under 2 s as 2 s."""


def check_postgresql(config: Mapping[str, Any], credentials: Mapping[str, Any],
                     guard: TargetGuard, timeout: float, secrets: list[str]) -> None:
    """Log in to the configured database and run ``SELECT 1``."""
    host, port = str(config["host"]), int(config.get("port", 5432))
    address = guard.address(host, port)
    try:
        with psycopg.connect(
            host=host, hostaddr=address, port=port, dbname=str(config["database"]),
            user=str(credentials["username"]), password=str(credentials["password"]),
            sslmode=str(credentials.get("sslmode", "verify-full")),
            connect_timeout=max(MIN_CONNECT_TIMEOUT, math.ceil(timeout)),
            passfile="/dev/null", autocommit=True,
        ) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        raise _problem(error, secrets) from None


def _problem(error: psycopg.Error, secrets: list[str]) -> Exception:
    message = safe_message(str(error), secrets)
    if error.sqlstate in REFUSED_STATES or "password authentication failed" in message:
        return CredentialsRefusedError(message)
    if "timeout expired" in message:
        return ConnectionTimeoutError(message)
    return ConnectionFailedError(message)
