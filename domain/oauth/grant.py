"""The OAuthGrant aggregate: one authorization-code flow, from its start to its claim.

``Started`` holds the PKCE code verifier, ``Exchanged`` the tokens the provider answered and
the hash of the one-time ``oauthKey``: both are shredded, encrypted with the grant's own data
key. ``Claimed`` (by the connector the tokens went to) is stored plain and the save that
records it destroys that key, so afterwards the tokens exist only in the connector's
credentials. A grant is found by its ``state`` (:func:`grant_uuid`) or by the key, which
carries the grant's id: never by a scan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, AggregateEvent

from domain.common import Actor, Redacted, iso_timestamp, parse_timestamp
from domain.connectors.errors import ConnectorValidationError
from domain.errors import Violation
from domain.oauth.errors import OAUTH_KEY_EXPIRED, OAuthKeyExpiredError

GRANT_LIFETIME = timedelta(minutes=10)
"""How long a grant may be exchanged and claimed after its start (seed 002: then 408)."""
GRANT_NAMESPACE = UUID("5f0b7c1e-3a54-4d1c-9a39-0a7d6f4c2b18")
KEY_PREFIX = "oak_"
_KEY = re.compile(r"^oak_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


def grant_uuid(state: str) -> UUID:
    """The id of the grant started with this ``state``."""
    return uuid5(GRANT_NAMESPACE, f"oauth-state:{state}")


def new_key(grant_id: UUID) -> tuple[str, str]:
    """A one-time ``oauthKey`` of a grant, and the hash of it that is stored."""
    key = f"{KEY_PREFIX}{grant_id.hex}_{secrets.token_urlsafe(32)}"
    return key, _hash(key)


def key_grant(key: str) -> UUID | None:
    """The grant an ``oauthKey`` names; ``None`` when it is not one."""
    match = _KEY.match(key)
    return UUID(match.group(1)) if match else None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class GrantState:
    """What a grant knows; the secrets stay in its (shredded) events."""

    id: UUID
    tenant: str = ""
    type: str = ""
    expires_at: datetime | None = None
    code_verifier: str | None = field(default=None, repr=False)
    credentials: dict[str, Any] | None = field(default=None, repr=False)
    key_hash: str | None = field(default=None, repr=False)
    claimed: bool = False

    def usable(self, tenant: str, type_name: str, now: datetime) -> bool:
        """True while the caller's tenant and type match and ten minutes have not passed."""
        return (not self.claimed and self.tenant == tenant and self.type == type_name
                and self.expires_at is not None and now < self.expires_at)


class GrantEvent(Aggregate.Event):
    """Base of every grant event: shredded unless it says otherwise."""

    shredded: ClassVar[bool] = True
    redacted_class: ClassVar[type[AggregateEvent]]

    def apply(self, aggregate: Any) -> None:
        aggregate.state = self.change(aggregate.state)

    def change(self, state: GrantState) -> GrantState:
        """The state after this event."""
        return state


class Started(GrantEvent, Aggregate.Created):
    """A caller of a tenant started a flow for a connector type."""

    tenant: str
    type: str
    actor_subject: str
    expires_at: str
    code_verifier: str

    def change(self, state: GrantState) -> GrantState:
        return dataclasses.replace(state, tenant=self.tenant, type=self.type,
                                   expires_at=parse_timestamp(self.expires_at),
                                   code_verifier=self.code_verifier)


class Exchanged(GrantEvent):
    """The provider answered the code with tokens; a one-time key now names them."""

    credentials: dict[str, Any]
    key_hash: str

    def change(self, state: GrantState) -> GrantState:
        return dataclasses.replace(state, credentials=dict(self.credentials),
                                   key_hash=self.key_hash, code_verifier=None)


class Claimed(GrantEvent):
    """A connector took the tokens; the grant's data key goes in the same save."""

    tenant: str
    connector: UUID
    shredded: ClassVar[bool] = False

    def change(self, state: GrantState) -> GrantState:
        return GrantState(id=state.id, tenant=self.tenant, claimed=True)


class Lapsed(GrantEvent):
    """Ten minutes passed with the tokens unclaimed (or the code never came): the grant's data
    key goes in the same save, so its verifier and tokens are unreadable from then on."""

    tenant: str
    shredded: ClassVar[bool] = False

    def change(self, state: GrantState) -> GrantState:
        return GrantState(id=state.id, tenant=self.tenant, claimed=True)


class OAuthGrant(Aggregate):
    """One pending authorization-code flow of one tenant and connector type."""

    def __init__(self) -> None:
        self.state = GrantState(id=self.id)

    @classmethod
    def start(cls, actor: Actor, type_name: str, state: str, code_verifier: str,
              now: datetime) -> OAuthGrant:
        """Start a flow: its id follows from ``state``."""
        return cls._create(Started, id=grant_uuid(state), tenant=actor.tenant, type=type_name,
                           actor_subject=actor.subject,
                           expires_at=iso_timestamp(now + GRANT_LIFETIME),
                           code_verifier=code_verifier)

    def verifier(self, tenant: str, type_name: str, now: datetime) -> str:
        """The code verifier of a grant still waiting for its code; 408 otherwise."""
        state = self.state
        if not state.usable(tenant, type_name, now) or state.code_verifier is None:
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED)
        return state.code_verifier

    def exchange(self, tenant: str, type_name: str, credentials: dict[str, Any],
                 now: datetime) -> str:
        """Record the tokens; answers the one-time key that claims them."""
        self.verifier(tenant, type_name, now)
        key, key_hash = new_key(self.id)
        self.trigger_event(Exchanged, credentials=credentials, key_hash=key_hash)
        return key

    def claim(self, actor: Actor, type_name: str, key: str, connector: UUID,
              now: datetime) -> dict[str, Any]:
        """Hand the tokens to a connector, once; 408 for a wrong, used or stale key."""
        state = self.state
        matches = state.key_hash is not None and hmac.compare_digest(state.key_hash, _hash(key))
        if not matches or not state.usable(actor.tenant, type_name, now):
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED)
        assert state.credentials is not None
        credentials = dict(state.credentials)
        self.trigger_event(Claimed, tenant=actor.tenant, connector=connector)
        return credentials


    def lapse(self, now: datetime) -> bool:
        """Record that the grant can no longer be used (the caller destroys its key in the
        same save); False, recording nothing, while it still can or once it was claimed."""
        state = self.state
        if state.claimed or state.expires_at is None or now < state.expires_at:
            return False
        self.trigger_event(Lapsed, tenant=state.tenant)
        return True


class GrantRedacted(Redacted):
    """Stands in for a grant event whose data key was destroyed by its claim."""


GrantRedacted.restores = (OAuthGrant, GrantState)
GrantEvent.redacted_class = GrantRedacted


CALLBACK_DOCUMENT: dict[str, Any] = {
    "title": "OAuthCallback",
    "type": "object",
    "additionalProperties": False,
    "required": ["code", "state"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 4096,
                 "pattern": "^[\\u0021-\\u007e]+$",
                 "description": "The `code` the provider put in the redirect"},
        "state": {"type": "string", "minLength": 1, "maxLength": 256,
                  "pattern": "^[\\u0021-\\u007e]+$",
                  "description": "The `state` the provider put in the redirect"},
    },
}
"""The body of a callback: what the provider sent the user back with."""


def parse_callback(document: Any) -> tuple[str, str]:
    """The ``code`` and ``state`` of a callback body; 422 (never echoing a value) otherwise."""
    violations = []
    if not isinstance(document, dict):
        raise ConnectorValidationError([Violation("", "must be an object")])
    for name in document:
        if name not in ("code", "state"):
            violations.append(Violation(f"/{name}", "unknown property"))
    for name in ("code", "state"):
        value = document.get(name)
        limit = CALLBACK_DOCUMENT["properties"][name]["maxLength"]
        if not isinstance(value, str) or not _PRINTABLE.match(value) or len(value) > limit:
            violations.append(Violation(
                f"/{name}", f"required: 1 to {limit} printable ASCII characters, no spaces"))
    if violations:
        raise ConnectorValidationError(violations)
    return document["code"], document["state"]


_PRINTABLE = re.compile(r"^[\x21-\x7e]+\Z")
