"""A connector's collector-script versions (seed 003's ``versions``), an aggregate of their own.

Each universal connector has one ``ScriptVersions`` aggregate, its id derived from the
connector's (``script_versions_uuid``). Every saved version is an event holding the script
text, encrypted with this aggregate's data key, which the connector's erase destroys in the
same transaction as its own: erasing the connector erases its scripts. The state keeps the
versions' metadata and the messages found when each was saved, never the text.

``latest`` is the most recently saved version, ``default`` the one syncs run. The first
version saved without errors becomes the default; after that only an explicit choice moves it,
and never to a version with errors. ``latest`` and ``default`` are reserved: they name those
two in paths, so no version may be called that.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.common import Actor, Redacted
from domain.errors import RegistryError, Violation
from domain.ids import decode_prefixed, encode_prefixed

VERSION_ID_PREFIX = "ver_"
RESERVED = ("latest", "default")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_SCRIPT_BYTES = 512 * 1024
MAX_DESCRIPTION = 2000
SEVERITIES = ("info", "warning", "error")


def script_versions_uuid(connector: UUID) -> UUID:
    """The id of a connector's script versions: its timestamp bits and a hash of its id."""
    digest = hashlib.sha256(b"script-versions:" + connector.bytes).digest()
    return UUID(bytes=connector.bytes[:6] + digest[:10])


def encode_version_id(value: UUID) -> str:
    return encode_prefixed(VERSION_ID_PREFIX, value)


def decode_version_id(text: str) -> UUID | None:
    return decode_prefixed(VERSION_ID_PREFIX, text)


class ScriptVersionValidationError(RegistryError):
    """A version's name, description or script breaks the rules."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.pointer or '/'}: {v.message}" for v in violations))


class ScriptVersionNotFoundError(RegistryError):
    """No version of that id or name for this connector."""


class ScriptVersionNameTakenError(RegistryError):
    """Another version of the connector has that name."""


class ScriptVersionHasErrorsError(RegistryError):
    """A version whose script has errors cannot become the default."""


@dataclass(frozen=True)
class ScriptVersion:
    """One saved version, without its text."""

    id: UUID
    name: str
    description: str | None
    created_at: datetime
    created_by: str
    messages: tuple[Mapping[str, Any], ...] = ()
    published_at: datetime | None = None
    """When it first became the default."""
    actions: tuple[Mapping[str, Any], ...] = ()
    """The actions (tools) it declares, checked when it was saved."""

    @property
    def version_id(self) -> str:
        return encode_version_id(self.id)

    @property
    def has_errors(self) -> bool:
        return any(m.get("severity") == "error" for m in self.messages)


@dataclass(frozen=True)
class ScriptVersionsState:
    """Every version of one connector's script, the latest and the default."""

    id: UUID
    tenant: str = ""
    connector_id: UUID | None = None
    versions: tuple[ScriptVersion, ...] = ()
    default: UUID | None = None
    updated_at: datetime | None = field(default=None)

    @property
    def latest(self) -> ScriptVersion | None:
        return self.versions[-1] if self.versions else None

    def find(self, ref: str) -> ScriptVersion:
        """A version by ``latest``, ``default``, its ``ver_`` id or its name."""
        if ref == "latest":
            found = self.latest
        elif ref == "default":
            found = next((v for v in self.versions if v.id == self.default), None)
        else:
            uuid = decode_version_id(ref)
            found = next((v for v in self.versions if v.id == uuid or v.name == ref), None)
        if found is None:
            raise ScriptVersionNotFoundError(f"no script version {ref!r} for this connector")
        return found


def check_version(name: Any, description: Any, script: Any) -> list[Violation]:
    """Every rule a new version's fields break (pointers into the request body)."""
    found: list[Violation] = []
    if not isinstance(name, str) or not NAME.match(name):
        found.append(Violation("/name", "1-64 letters, digits, '.', '_' or '-', starting "
                                        "with a letter or digit"))
    elif name in RESERVED:
        found.append(Violation("/name", f"{name!r} is reserved"))
    if description is not None and (not isinstance(description, str)
                                    or len(description) > MAX_DESCRIPTION):
        found.append(Violation("/description",
                               f"a string of at most {MAX_DESCRIPTION} characters"))
    if not isinstance(script, str) or not script.strip():
        found.append(Violation("/script", "the Python source of the script, not empty"))
    elif len(script.encode("utf-8", "surrogatepass")) > MAX_SCRIPT_BYTES:
        found.append(Violation("/script", f"at most {MAX_SCRIPT_BYTES // 1024} KiB"))
    elif "\x00" in script:
        found.append(Violation("/script", "contains a NUL character"))
    return found


class ScriptVersions(Aggregate):
    """One connector's script versions."""

    def __init__(self) -> None:
        self.state = ScriptVersionsState(id=self.id)

    class Event(Aggregate.Event):
        """Base of the events: encrypted with this aggregate's key, shredded with the
        connector."""

        tenant: str
        actor: str
        shredded: ClassVar[bool] = True

        def apply(self, aggregate: Any) -> None:
            aggregate.state = dataclasses.replace(self.change(aggregate.state),
                                                  tenant=self.tenant, updated_at=self.timestamp)

        def change(self, state: ScriptVersionsState) -> ScriptVersionsState:
            return state

    class Opened(Event, Aggregate.Created):
        connector_id: UUID

        def change(self, state: ScriptVersionsState) -> ScriptVersionsState:
            return dataclasses.replace(state, connector_id=self.connector_id)

    class Saved(Event):
        """A version was saved; ``script`` is the only copy of its text."""

        class_version = 2

        version_id: UUID
        name: str
        description: str | None
        script: str
        messages: list[dict[str, Any]]
        actions: list[dict[str, Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 came before scripts declared actions."""
            state["actions"] = []

        def change(self, state: ScriptVersionsState) -> ScriptVersionsState:
            version = ScriptVersion(self.version_id, self.name, self.description,
                                    self.timestamp, self.actor, tuple(self.messages),
                                    actions=tuple(self.actions))
            return dataclasses.replace(state, versions=(*state.versions, version))

    class DefaultChanged(Event):
        version_id: UUID

        def change(self, state: ScriptVersionsState) -> ScriptVersionsState:
            versions = tuple(
                dataclasses.replace(v, published_at=v.published_at or self.timestamp)
                if v.id == self.version_id else v for v in state.versions)
            return dataclasses.replace(state, versions=versions, default=self.version_id)

    @classmethod
    def open(cls, actor: Actor, connector_id: UUID) -> ScriptVersions:
        return cls._create(cls.Opened, id=script_versions_uuid(connector_id),
                           tenant=actor.tenant, actor=actor.name, connector_id=connector_id)

    def save_version(self, actor: Actor, version_id: UUID, name: str,
                     description: str | None, script: str,
                     messages: Sequence[Mapping[str, Any]],
                     actions: Sequence[Mapping[str, Any]] = ()) -> ScriptVersion:
        """Record a checked version (``messages`` from the sandbox's inspection); the
        first one without errors becomes the default."""
        violations = check_version(name, description, script)
        if violations:
            raise ScriptVersionValidationError(violations)
        if any(v.name == name for v in self.state.versions):
            raise ScriptVersionNameTakenError(f"a script version is already called {name!r}")
        self.trigger_event(self.Saved, tenant=actor.tenant, actor=actor.name,
                           version_id=version_id, name=name, description=description,
                           script=script, messages=[_message(m) for m in messages],
                           actions=[dict(a) for a in actions])
        saved = self.state.versions[-1]
        if self.state.default is None and not saved.has_errors:
            self.trigger_event(self.DefaultChanged, tenant=actor.tenant, actor=actor.name,
                               version_id=saved.id)
        return self.state.find(saved.version_id)

    def set_default(self, actor: Actor, ref: str) -> ScriptVersion:
        """Make ``ref`` the version syncs run; refused for a version with errors."""
        version = self.state.find(ref)
        if version.has_errors:
            raise ScriptVersionHasErrorsError(
                f"script version {version.name} has errors and cannot become the default")
        if self.state.default != version.id:
            self.trigger_event(self.DefaultChanged, tenant=actor.tenant, actor=actor.name,
                               version_id=version.id)
        return self.state.find(version.version_id)


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    severity = str(message.get("severity"))
    return {"text": str(message.get("text"))[:2000],
            "severity": severity if severity in SEVERITIES else "error",
            "detail": [str(d)[:2000] for d in message.get("detail") or []][:20]}


class ScriptVersionsRedacted(Redacted):
    """Stands in for an event whose key was destroyed by the connector's erase."""


ScriptVersionsRedacted.restores = (ScriptVersions, ScriptVersionsState)
ScriptVersions.Event.redacted_class = ScriptVersionsRedacted  # type: ignore[attr-defined]
