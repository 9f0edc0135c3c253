"""Script-version commands of the application: save (checked in the sandbox first), choose
the default, read the versions and, for a run, the text.

Only universal connectors have collector scripts. Saving needs the right to change the
connector; reading needs the right to see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from ulid import ULID

from domain.errors import Violation
from domain.scripts.actions import check_declarations
from domain.scripts.versions import (
    ScriptVersion,
    ScriptVersions,
    ScriptVersionsState,
    ScriptVersionValidationError,
    check_version,
    script_versions_uuid,
)

if TYPE_CHECKING:
    from domain.connectors.connector import Connector
    from registry.connectors import Access
    from registry.sandbox import Sandbox

SCRIPTED_TYPES = ("universal",)


class ScriptCommands:
    """Script-version commands; mixed into the application."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any
        events: Any
        sandbox: Sandbox

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def connector(self, access: Access, uuid: UUID) -> Connector: ...

        def _changeable(self, access: Access, uuid: UUID, *,
                        deleted_ok: bool = False) -> Connector: ...

    def save_script_version(self, access: Access, uuid: UUID, body: Any) -> ScriptVersion:
        """Save a new version of a universal connector's script: its fields are checked,
        then the script is inspected in the sandbox; what the inspection finds is kept as
        the version's ``messages`` (a version with errors is saved but cannot be default)."""
        connector = self._changeable(access, uuid)
        scripted(connector)
        if not isinstance(body, Mapping):
            raise ScriptVersionValidationError([Violation("", "a JSON object")])
        unknown = sorted(set(body) - {"name", "description", "script"})
        violations = [Violation(f"/{key}", "unknown property") for key in unknown]
        violations += check_version(body.get("name"), body.get("description"),
                                    body.get("script"))
        if violations:
            raise ScriptVersionValidationError(violations)
        inspection = self.sandbox.inspect_script(str(body["script"]))
        declared = check_declarations(inspection.actions)
        versions = self._script_versions(connector.id) or ScriptVersions.open(
            access.actor, connector.id)
        saved = versions.save_version(access.actor, ULID().to_uuid(), str(body["name"]),
                                      body.get("description"), str(body["script"]),
                                      [*inspection.messages, *declared.messages],
                                      declared.actions)
        self._save(versions)
        return saved

    def set_default_script_version(self, access: Access, uuid: UUID, ref: Any) -> ScriptVersion:
        """Make a version (id, name or ``latest``) the one syncs run; ``ref`` is the name or
        a request body ``{"version": name}``."""
        connector = self._changeable(access, uuid)
        scripted(connector)
        if isinstance(ref, Mapping):
            unknown = sorted(set(ref) - {"version"})
            if unknown:
                raise ScriptVersionValidationError(
                    [Violation(f"/{key}", "unknown property") for key in unknown])
            ref = ref.get("version")
        if not isinstance(ref, str) or not ref:
            raise ScriptVersionValidationError(
                [Violation("/version", "the id or name of a version")])
        versions = self._script_versions(connector.id)
        if versions is None:
            return ScriptVersionsState(id=uuid).find(ref)  # raises: there are none
        chosen = versions.set_default(access.actor, ref)
        self._save(versions)
        return chosen

    def script_versions(self, access: Access, uuid: UUID) -> ScriptVersionsState:
        """The versions of a connector the caller may see (none yet: an empty state)."""
        connector = self.connector(access, uuid)
        connector.visible_state()
        versions = self._script_versions(connector.id)
        return versions.state if versions is not None else ScriptVersionsState(
            id=script_versions_uuid(connector.id), connector_id=connector.id)

    def script_text(self, connector_id: UUID, version_id: UUID) -> str | None:
        """A version's script, decrypted from its event (for a run only); ``None`` once the
        connector was erased."""
        for event in self.events.get(script_versions_uuid(connector_id)):
            if isinstance(event, ScriptVersions.Saved) and event.version_id == version_id:
                return event.script
        return None

    def _script_versions(self, connector_id: UUID) -> ScriptVersions | None:
        try:
            found = self.repository.get(script_versions_uuid(connector_id))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ScriptVersions) else None


def scripted(connector: Connector) -> None:
    """Refuse a connector whose type has no collector scripts."""
    state = connector.state
    if state.type not in SCRIPTED_TYPES:
        raise ScriptVersionValidationError([Violation(
            "", f"a {state.type} connector has no collector scripts; only universal ones do")])
