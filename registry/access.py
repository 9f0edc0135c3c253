"""Both credentials of a request, checked from memory on the hot path.

- A pair of credentials found valid is remembered by its text until the JWT expires, and at
  most :data:`PASS_SECONDS`; it is checked in full again as soon as the verification keys
  change (a JWKS file is re-read, so a removed key stops working at once) or the API token's
  state changes.
- API tokens (hashes, tenants, revocations) are held in memory: reloaded whenever the
  follower sees other processes' events, and at once after this process's own token changes.
  A revocation made by another process therefore takes effect here within the follow interval
  (``Settings.follow_interval``, 0.5 s by default). A token this process has not seen yet is
  looked up in the database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from domain.errors import ConcurrentWriteError
from domain.tokens import ApiToken, TokenState
from registry import tokens
from registry.auth import AuthenticationError, Principal, TokenVerifier
from registry.service import Registry

PASS_CACHE_SIZE = 10_000
PASS_SECONDS = 60.0
USE_RECORDING_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class _Pass:
    """A pair of credentials found valid: who it is, the token state it was checked against,
    and until when it may be trusted without checking again."""

    principal: Principal
    token: TokenState
    keys: object
    until: float


class Authenticator:
    """Checks the bearer JWT and the API token of a request; keeps what it verified."""

    def __init__(self, verifier: TokenVerifier, registry: Registry) -> None:
        self.verifier = verifier
        self.registry = registry
        self._passes: dict[tuple[str | None, str | None], _Pass] = {}
        self._tokens: dict[UUID, TokenState] = {}
        registry.watchers.append(self.reload)
        registry.app.listeners.append(self._saved)

    def reload(self) -> None:
        """Read every API token again (another process may have revoked one)."""
        self._tokens = {state.id: state for state in self.registry.tokens.all()}

    def _saved(self, events: Sequence[object]) -> None:
        for event in events:
            if isinstance(event, ApiToken.Event):
                self.lookup(event.originator_id)

    def remembered(self, authorization: str | None, api_token: str | None) -> Principal | None:
        """The caller of credentials checked before, while nothing they depend on changed.

        Valid while the API token's state is the very one it was checked against (a reload
        or a change makes a new one), the verification keys are the same, the JWT has not
        expired, and no use of the token is due to be recorded.
        """
        seen = self._passes.get((authorization, api_token))
        if seen is None or seen.until <= time.time():
            return None
        if self._tokens.get(seen.token.id) is not seen.token:
            return None
        if self.verifier.keys() is not seen.keys:
            return None
        return seen.principal

    def remember(
        self, authorization: str | None, api_token: str | None, principal: Principal,
        state: TokenState,
    ) -> None:
        """Note credentials that were just checked in full."""
        token = bearer_token(authorization)
        expires = float(jwt.decode(token, options={"verify_signature": False})["exp"])
        last_used = state.last_used_at.timestamp() if state.last_used_at else 0.0
        until = min(expires, time.time() + PASS_SECONDS,
                    last_used + USE_RECORDING_INTERVAL.total_seconds())
        if len(self._passes) >= PASS_CACHE_SIZE:
            self._passes.clear()
        self._passes[(authorization, api_token)] = _Pass(
            principal, state, self.verifier.keys(), until
        )

    def principal(self, authorization: str | None) -> Principal:
        """Who the bearer JWT says is calling."""
        return self.verifier.verify(bearer_token(authorization))

    def known(self, token_id: UUID) -> TokenState | None:
        """An API token from memory."""
        return self._tokens.get(token_id)

    def lookup(self, token_id: UUID) -> TokenState | None:
        """An API token from the database (blocking), remembered when it exists."""
        state = self.registry.tokens.get(token_id)
        if state is not None:
            self._tokens[token_id] = state
        return state

    def record_use(self, principal: Principal, state: TokenState) -> None:
        """Record that the token was used (at most once a minute); blocking."""
        # A concurrent request with the same token may have recorded this use already.
        with contextlib.suppress(ConcurrentWriteError):
            self.registry.app.record_token_use(principal.actor, state.id)


def bearer_token(header: str | None) -> str:
    """The JWT of an ``Authorization`` header."""
    if not header:
        raise AuthenticationError("missing 'Authorization: Bearer <token>' header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def parse_api_token(presented: str | None) -> tuple[UUID, str]:
    """The id and secret of an ``X-API-Token`` header."""
    if not presented:
        raise AuthenticationError("missing 'X-API-Token' header")
    parsed = tokens.parse(presented)
    if parsed is None:
        raise AuthenticationError("invalid API token")
    return parsed


def check_api_token(
    state: TokenState | None, secret: str, principal: Principal
) -> Principal:
    """The principal with the token's application, or the reason the token is refused."""
    if state is None or not tokens.matches(secret, state.secret_hash):
        raise AuthenticationError("invalid API token")
    if state.revoked:
        raise AuthenticationError("the API token was revoked")
    if state.tenant != principal.tenant:
        raise AuthenticationError("the API token and the bearer token are of different tenants")
    return dataclasses.replace(principal, app_id=state.app_id)


def use_is_due(state: TokenState) -> bool:
    """True when the token's last recorded use is older than the recording interval."""
    last = state.last_used_at
    return last is None or datetime.now(UTC) - last >= USE_RECORDING_INTERVAL
