"""Property-based test of the connector commands against an independent model of connectors.

A hypothesis state machine sends random connector commands to the application: create (names
from a small pool, so that taken names happen), PATCH (config keys changed, added and removed,
renames, enable and disable, tags), PUT, credential rotation, delete (with and without
cascade), restore and erase, by an admin or an editor, sometimes with a stale ``If-Match``,
invalid content or an unknown id. Auth scheme configs and connections are added and removed,
and ``connectionVariables`` set, through the same commands the routes use. A plain-Python model
predicts every outcome (the exact error, or the connector's name, config, tags, enabled flag,
configs, connections and their variables, lifecycle and revision), which names each tenant has
taken, and which connections use the example's one credential (its ``usages``).

After every step the read models must show the model: the current state of every connector
(erased ones answer erased), exactly one history entry per revision, and every revision read
back exactly as the command returned it. No read-model row may ever hold a credential value.
At the end of each example a replay of its events must give the tenant's rows exactly, and
after the last example the read models must equal a fresh rebuild from the event store. Each
example runs in a tenant of its own: the database is created once per test function, not per
example.

A failing example shrinks slowly (each attempt replays commands on a real database); expect
Hypothesis to spend its five minutes of shrinking before it reports the smallest sequence.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain.common import Actor
from domain.connectors.connection_errors import (
    AuthSchemeConfigExistsError,
    ConnectionNameTakenError,
    ConnectionNotFoundError,
)
from domain.connectors.errors import (
    ConnectorDeletedError,
    ConnectorErasedError,
    ConnectorForbiddenError,
    ConnectorNameTakenError,
    ConnectorNotDeletedError,
    ConnectorNotFoundError,
    ConnectorValidationError,
)
from domain.connectors.ids import connector_name_uuid, encode_connector_id, normalise_name
from domain.connectors.state import ConnectorState
from domain.errors import StaleVersionError
from registry.connectors import Access
from registry.service import Registry
from tests.conftest import Backend

Doc = dict[str, Any]
T = TypeVar("T")

EXAMPLES = {"sqlite": 60, "postgres": 20}
"""Examples per backend; ``PROPERTY_EXAMPLES`` overrides both for a longer hunt."""
STEPS = 15

TABLES = ("registry_connectors", "registry_connector_versions")
ORDER = {"registry_connectors": "uuid", "registry_connector_versions": "uuid, version"}

NAMES = ("Alpha", "ALPHA", "Beta", "Gamma Store", "gamma   store", "Delta")
"""Names that pairwise normalise to the same name, so renames and creates collide."""
BAD_NAMES = (" Alpha", "", "x" * 201, "Tab\there")

CONFIG_IDS = ("a", "b")
SCHEMES = ("api-key", "bearer", "none")
CONNECTION_NAMES = ("prod", "test")
VARIABLE_SETS = ([], [{"name": "region", "value": "eu"}],
                 [{"name": "region", "value": "us"}, {"name": "tier", "value": "gold"}])

TYPES = ("s3", "postgresql", "github")
VALUES: dict[str, dict[str, tuple[Any, ...]]] = {
    "s3": {
        "bucket": ("my-documents", "data.lake-01"),
        "region": ("us-east-1", "eu-west-1"),
        "prefix": ("/documents/", "exports"),
        "endpoint": ("https://s3.example.com", "http://minio.local:9000"),
    },
    "postgresql": {
        "host": ("db.internal", "10.0.0.5"),
        "port": (5432, 6543),
        "database": ("app", "analytics"),
        "schema": ("public", "sales"),
    },
    "github": {
        "repos": (["octo/hello"], ["acme/docs.site", "octo/hello"]),
        "branch": ("main", "release/1.x"),
        "pathFilter": ("docs/**/*.md",),
    },
}
"""Valid values of every config key of each type."""
REQUIRED = {"s3": ("bucket", "region"), "postgresql": ("host", "database"), "github": ("repos",)}
INVALID: dict[str, dict[str, Any]] = {
    "s3": {"bucket": "Bad_Bucket", "region": "moon", "endpoint": "ftp://x", "bogus": "1"},
    "postgresql": {"port": 0, "host": "-bad-", "schema": "1abc", "bogus": "1"},
    "github": {"repos": [], "branch": "a b", "bogus": "1"},
}
"""A value each of these keys may not take (``bogus`` is no key of the type at all)."""

TAG_KEYS = ("env", "team", "cost.center")
TAG_VALUES = ("prod", "dev", "платформа")
BAD_TAG_KEY = "-env"


def config_valid(type_name: str, config: Doc) -> bool:
    """The model's validity rule: required keys present, known keys, known good values."""
    known = VALUES[type_name]
    return set(REQUIRED[type_name]) <= set(config) <= set(known) and all(
        value in known[key] for key, value in config.items()
    )


def tags_valid(tags: Doc) -> bool:
    return BAD_TAG_KEY not in tags


def having(*statuses: str) -> Callable[[Any], bool]:
    """A precondition: the model has a connector in one of ``statuses``."""
    return lambda machine: any(t.status in statuses for t in machine.tracked)


def by_of(actor: Actor) -> str:
    """How versions and history name an actor."""
    return actor.email or actor.subject


# ---------------------------------------------------------------------------------------------
# Strategies (drawn inside rules, because they depend on the connector's type)
# ---------------------------------------------------------------------------------------------

rarely = st.sampled_from((False,) * 9 + (True,))
"""True about one time in ten."""


@st.composite
def configs(draw: st.DrawFn, type_name: str) -> Doc:
    """A valid config of the type: every required key, some optional ones."""
    config: Doc = {}
    for key, values in VALUES[type_name].items():
        if key in REQUIRED[type_name] or draw(st.booleans()):
            config[key] = draw(st.sampled_from(values))
    return config


@st.composite
def config_edits(draw: st.DrawFn, type_name: str) -> Doc:
    """A merge patch of a config: keys set to a valid value, removed, or rarely invalid."""
    keys = draw(st.lists(st.sampled_from(sorted(VALUES[type_name])), max_size=3, unique=True))
    edits: Doc = {}
    for key in keys:
        if draw(st.booleans()):
            edits[key] = draw(st.sampled_from(VALUES[type_name][key]))
        else:
            edits[key] = None
    if draw(rarely):
        key = draw(st.sampled_from(sorted(INVALID[type_name])))
        edits[key] = INVALID[type_name][key]
    return edits


@st.composite
def tag_edits(draw: st.DrawFn) -> Doc:
    """A merge patch of the tags: set, removed, rarely a key the rules refuse."""
    keys = draw(st.lists(st.sampled_from(TAG_KEYS), max_size=3, unique=True))
    edits: Doc = {k: draw(st.none() | st.sampled_from(TAG_VALUES)) for k in keys}
    if draw(rarely):
        edits[BAD_TAG_KEY] = "x"
    return edits


@st.composite
def tag_sets(draw: st.DrawFn) -> Doc:
    tags = {k: v for k, v in draw(tag_edits()).items() if v is not None}
    return tags


@dataclass(frozen=True)
class Secrets:
    """Credentials as sent, and the values no read-model row may ever hold."""

    document: Doc
    values: tuple[str, ...]
    valid: bool

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(sorted(k for k in self.document if k != "authType"))


@st.composite
def credentials(draw: st.DrawFn, type_name: str, *, valid: bool = False) -> Secrets:
    """Credentials of the type with fresh, unique values; rarely missing a required field."""
    token = uuid.uuid4().hex  # not drawn: only has to be unique, never shrunk
    if type_name == "s3":
        document: Doc = {"accessKeyId": f"AKIA{token[:20].upper()}",
                         "secretAccessKey": f"s3secret-{token}"}
        if draw(st.booleans()):
            document["sessionToken"] = f"s3session-{token}"
        required = ("accessKeyId", "secretAccessKey")
    elif type_name == "postgresql":
        document = {"username": f"user_{token}", "password": f"pw-{token}"}
        if draw(st.booleans()):
            document["sslmode"] = draw(st.sampled_from(("require", "verify-full")))
        required = ("username", "password")
    else:
        document = {"token": f"ghp_{token}"}
        required = ("token",)
    values = tuple(v for k, v in document.items() if k != "sslmode")
    if valid:
        return Secrets(document, values, True)
    valid = True
    if draw(rarely):
        del document[draw(st.sampled_from(required))]
        valid = False
    elif draw(rarely):
        document["extra"] = f"extra-{token}"
        values, valid = (*values, document["extra"]), False
    return Secrets(document, values, valid)


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass
class Tracked:
    """What the model knows about one connector that was created."""

    uuid: uuid.UUID
    type: str
    owner: str
    name: str
    config: Doc
    tags: Doc
    enabled: bool
    credential_fields: tuple[str, ...]
    scope: str = "user"
    """user (only its owner and admins see it) or org (the whole tenant sees it)."""
    status: str = "active"
    """active / deleted / erased."""
    revision: int = 1
    deleted_by: str | None = None
    updated_by: str = ""
    versions: dict[int, ConnectorState] = field(default_factory=dict)
    """The state each command returned, by revision; emptied by an erase."""
    changed_by: dict[int, str] = field(default_factory=dict)
    erased_versions: int | None = None
    configs: dict[str, str] = field(default_factory=dict)
    """Auth scheme config id -> scheme type, in the connector's order."""
    connections: dict[str, Doc] = field(default_factory=dict)
    """Connection name -> {"variables": [...], "uses": bool (the example's credential)}."""
    variables: list[Doc] = field(default_factory=list)

    def record(self, state: ConnectorState, by: str) -> None:
        """One accepted command: one new revision, as the command returned it."""
        self.revision += 1
        self.updated_by = by
        self.changed_by[self.revision] = by
        self.versions[self.revision] = state

    def fields(self) -> Doc:
        """The part of the model a state is compared with."""
        return {
            "name": self.name, "type": self.type, "config": self.config, "tags": self.tags,
            "scope": self.scope,
            "enabled": self.enabled, "deleted": self.status == "deleted",
            "owner_id": self.owner, "credential_fields": self.credential_fields,
            "credentials_set": bool(self.credential_fields), "revision": self.revision,
            "updated_by": self.updated_by, "deleted_by": self.deleted_by, "erased": False,
            "configs": list(self.configs),
            "connections": {n: c["variables"] for n, c in self.connections.items()},
            "variables": self.variables,
        }


def fields_of(state: ConnectorState) -> Doc:
    return {
        "name": state.name, "type": state.type, "config": dict(state.config),
        "tags": dict(state.tags), "scope": state.scope, "enabled": state.enabled,
        "deleted": state.deleted,
        "owner_id": state.owner_id, "credential_fields": state.credential_fields,
        "credentials_set": state.credentials_set, "revision": state.revision,
        "updated_by": state.updated_by, "deleted_by": state.deleted_by, "erased": state.erased,
        "configs": [c["id"] for c in state.auth_scheme_configs],
        "connections": {c["name"]: c["variables"] for c in state.connections},
        "variables": [dict(v) for v in state.connection_variables],
    }


def merged(current: Doc, edits: Doc) -> Doc:
    """One level of RFC 7396: ``None`` removes a key, anything else replaces it."""
    result = dict(current)
    for key, value in edits.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def rows(registry: Registry, where: str = "", params: tuple[Any, ...] = ()) -> dict[str, Any]:
    """Every row of both connector read models (``where`` narrows them), in a stable order."""
    with registry.db.transaction(write=False) as cur:
        return {
            table: cur.all(f"SELECT * FROM {table} {where} ORDER BY {ORDER[table]}", params)
            for table in TABLES
        }


def make_machine(registry: Registry, sent: set[str]) -> type[RuleBasedStateMachine]:
    """The state machine over ``registry`` (a function-scoped fixture, hence a closure);
    every credential value it sends is added to ``sent``."""

    class ConnectorMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.tenant = f"cprop-{uuid.uuid4().hex[:16]}"
            self.actors = (
                Access(Actor("admin-1", self.tenant, "admin@example.com"), roles=("admin",)),
                Access(Actor("editor-2", self.tenant), roles=("editor",)),
            )
            self.tracked: list[Tracked] = []
            self.names: dict[str, uuid.UUID] = {}
            """Normalised name -> the connector that holds it, in this tenant."""
            self.secrets = sent
            """Every credential value sent so far (in any example), accepted or not."""
            self.start = registry.app.recorder.max_notification_id() or 0
            """The last event stored before this example."""
            self.credential = registry.app.create_credential(self.actors[0], {
                "name": "Shared key", "type": "string", "data": {"value": "sk-property"}})
            """The example's one credential (a string: it serves api-key and bearer)."""

        # Helpers ---------------------------------------------------------------------------

        def attempt(self, expected: type[Exception] | None, call: Callable[[], T]) -> T | None:
            """Run a command; it must succeed when nothing is expected, else raise exactly that."""
            if expected is None:
                return call()
            try:
                call()
            except Exception as error:
                assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
                return None
            raise AssertionError(f"expected {expected.__name__}, the command succeeded")

        def target(self, data: st.DataObject, *prefer: str) -> tuple[Tracked | None, uuid.UUID]:
            """A connector of the model, mostly one in a ``prefer`` status (so that commands
            mostly meet connectors they may change); rarely an id that is no connector."""
            if self.tracked and not data.draw(rarely, label="unknown id"):
                preferred = [t for t in self.tracked if t.status in prefer]
                pool = (preferred if preferred and not data.draw(rarely, label="any status")
                        else self.tracked)
                tracked = pool[data.draw(st.integers(0, len(pool) - 1), label="connector")]
                return tracked, tracked.uuid
            kind = data.draw(st.sampled_from(("random", "name index")), label="unknown kind")
            if kind == "name index":
                return None, connector_name_uuid(self.tenant, NAMES[0])
            return None, uuid.UUID(int=data.draw(st.integers(1, 2**64), label="uuid"))

        def gate(self, tracked: Tracked | None, access: Access, *,
                 deleted_ok: bool) -> type[Exception] | None:
            """The error of the checks every change passes first, in their order: found,
            erased, seen (the owner, admins, everyone for org scope), deleted, owner or admin."""
            if tracked is None:
                return ConnectorNotFoundError
            if tracked.status == "erased":
                return ConnectorErasedError
            may_change = "admin" in access.roles or tracked.owner == access.actor.subject
            if not may_change and tracked.scope != "org":
                return ConnectorNotFoundError
            if tracked.status == "deleted" and not deleted_ok:
                return ConnectorDeletedError
            return None if may_change else ConnectorForbiddenError

        def access(self, data: st.DataObject) -> Access:
            return self.actors[data.draw(st.sampled_from((0, 0, 1)), label="actor")]

        def taken_by_other(self, name: str, me: uuid.UUID | None) -> uuid.UUID | None:
            holder = self.names.get(normalise_name(name))
            return holder if holder is not None and holder != me else None

        def check_returned(self, tracked: Tracked, state: ConnectorState) -> None:
            assert fields_of(state) == tracked.fields()
            assert state.id == tracked.uuid and state.tenant == self.tenant

        # Rules -----------------------------------------------------------------------------

        @initialize(data=st.data())
        def first(self, data: st.DataObject) -> None:
            """Two connectors to begin with, so that most commands meet one."""
            self.create(data, fresh=NAMES[0])
            self.create(data, fresh=NAMES[2])
            self.connect(self.tracked[0])

        def connect(self, tracked: Tracked) -> None:
            """Give a connector an api-key config ``a`` and a connection ``prod`` using the
            example's credential, so that variables and usages have something to act on."""
            admin = self.actors[0]
            state = registry.app.add_auth_scheme_config(admin, tracked.uuid, {
                "id": "a", "schemeType": "api-key", "name": "X-Key"})
            tracked.configs["a"] = "api-key"
            tracked.record(state, by_of(admin.actor))
            self.check_returned(tracked, state)
            state, _ = registry.app.add_connection(admin, tracked.uuid, {
                "name": "prod", "credentials": {"action": [
                    {"authSchemeConfig": "a", "credential": self.credential.credential_id}]}})
            tracked.connections["prod"] = {"variables": [], "uses": True}
            tracked.record(state, by_of(admin.actor))
            self.check_returned(tracked, state)

        @rule(data=st.data())
        def create(self, data: st.DataObject, fresh: str | None = None) -> None:
            """Create a connector; ``fresh`` names a valid one that must be accepted."""
            access = self.access(data)
            type_name = data.draw(st.sampled_from(TYPES), label="type")
            bad_name = not fresh and data.draw(rarely, label="bad name")
            name = fresh or data.draw(st.sampled_from(BAD_NAMES if bad_name else NAMES),
                                      label="name")
            config = data.draw(configs(type_name), label="config")
            if not fresh and data.draw(rarely, label="bad config"):
                config = merged(config, data.draw(config_edits(type_name), label="config edits"))
            document: Doc = {"name": name, "type": type_name, "config": config}
            secrets = None
            if data.draw(st.booleans(), label="with credentials"):
                secrets = data.draw(credentials(type_name, valid=bool(fresh)),
                                    label="credentials")
                document["credentials"] = secrets.document
                self.secrets.update(secrets.values)
            tags: Doc = {}
            if data.draw(st.booleans(), label="with tags"):
                tags = document["tags"] = data.draw(tag_sets(), label="tags")
                if fresh:
                    tags.pop(BAD_TAG_KEY, None)
            enabled = data.draw(st.sampled_from((None, True, False)), label="enabled")
            if enabled is not None:
                document["enabled"] = enabled

            valid = (name not in BAD_NAMES and config_valid(type_name, config)
                     and tags_valid(tags) and (secrets is None or secrets.valid))
            holder = self.taken_by_other(name, None) if valid else None
            expected = (ConnectorValidationError if not valid
                        else ConnectorNameTakenError if holder is not None else None)
            if expected is ConnectorNameTakenError:
                assert holder is not None
                try:
                    registry.app.create_connector(access, document)
                except ConnectorNameTakenError as error:
                    assert error.holder_id == encode_connector_id(holder)
                else:
                    raise AssertionError("a taken name was accepted")
                return
            state = self.attempt(expected,
                                 lambda: registry.app.create_connector(access, document))
            if state is None:
                return
            by = by_of(access.actor)
            tracked = Tracked(
                uuid=state.id, type=type_name, owner=access.actor.subject, name=name,
                config=config, tags=tags, enabled=True if enabled is None else enabled,
                credential_fields=secrets.fields if secrets else (), revision=0,
            )
            tracked.record(state, by)
            self.check_returned(tracked, state)
            assert state.created_by == by
            self.tracked.append(tracked)
            self.names[normalise_name(name)] = state.id

        @precondition(having("active"))
        @rule(data=st.data())
        def patch(self, data: st.DataObject) -> None:
            """PATCH: rename, enable or disable, config keys and tags set or removed."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            type_name = tracked.type if tracked else "s3"
            patch: Doc = {}
            if data.draw(st.booleans(), label="rename"):
                bad = data.draw(rarely, label="bad name")
                patch["name"] = data.draw(st.sampled_from(BAD_NAMES if bad else NAMES),
                                          label="name")
            if data.draw(st.booleans(), label="switch"):
                patch["enabled"] = data.draw(st.booleans(), label="enabled")
            if data.draw(rarely, label="rescope"):
                patch["scope"] = data.draw(st.sampled_from(("org", "user")), label="scope")
            if data.draw(st.booleans(), label="edit config"):
                patch["config"] = data.draw(config_edits(type_name), label="config edits")
            if data.draw(st.booleans(), label="edit tags"):
                patch["tags"] = (None if data.draw(rarely, label="drop all tags")
                                 else data.draw(tag_edits(), label="tag edits"))
            secrets = None
            if data.draw(rarely, label="with credentials"):
                secrets = data.draw(credentials(type_name), label="credentials")
                patch["credentials"] = secrets.document
                self.secrets.update(secrets.values)
            if data.draw(rarely, label="change type"):
                patch["type"] = next(t for t in TYPES if t != type_name)
            if data.draw(rarely, label="echo read-only"):
                patch["version"], patch["status"] = 999, "erased"
            self.change(data, tracked, target, access, patch, secrets, put=False)

        @precondition(having("active"))
        @rule(data=st.data())
        def put(self, data: st.DataObject) -> None:
            """PUT: a whole document; what it leaves out returns to unset (tags, enabled)."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            type_name = tracked.type if tracked else "s3"
            current = tracked.name if tracked else NAMES[0]
            bad = data.draw(rarely, label="bad name")
            name = data.draw(st.sampled_from((current, *(BAD_NAMES if bad else NAMES))),
                             label="name")
            if data.draw(st.booleans(), label="same config") and tracked is not None:
                config = dict(tracked.config)
            else:
                config = data.draw(configs(type_name), label="config")
            if data.draw(rarely, label="bad config"):
                config = merged(config, data.draw(config_edits(type_name), label="config edits"))
            document: Doc = {"name": name, "type": type_name}
            if not data.draw(rarely, label="no config"):
                document["config"] = config
            if data.draw(st.booleans(), label="with tags"):
                document["tags"] = data.draw(tag_sets(), label="tags")
            elif tracked is not None and data.draw(st.booleans(), label="same tags"):
                document["tags"] = dict(tracked.tags)
            enabled = data.draw(st.sampled_from((None, True, False)), label="enabled")
            if enabled is not None:
                document["enabled"] = enabled
            scope = data.draw(st.sampled_from((None, None, "org", "user")), label="scope")
            if scope is not None:
                document["scope"] = scope
            secrets = None
            if data.draw(rarely, label="with credentials"):
                secrets = data.draw(credentials(type_name), label="credentials")
                document["credentials"] = secrets.document
                self.secrets.update(secrets.values)
            if data.draw(rarely, label="change type"):
                document["type"] = next(t for t in TYPES if t != type_name)
            if data.draw(rarely, label="echo read-only"):
                document["id"], document["version"] = encode_connector_id(target), 999
            self.change(data, tracked, target, access, document, secrets, put=True)

        def change(self, data: st.DataObject, tracked: Tracked | None, target: uuid.UUID,
                   access: Access, document: Doc, secrets: Secrets | None, *, put: bool) -> None:
            """PATCH or PUT ``document``: the model decides the outcome, then both compare."""
            if_match_kind = data.draw(st.sampled_from(("none", "none", "current", "stale")),
                                      label="if-match")
            revision = tracked.revision if tracked else 1
            if_match = {"none": None, "current": {revision},
                        "stale": {revision - 1, revision + 1}}[if_match_kind]
            expected = self.gate(tracked, access, deleted_ok=False)
            if expected is None and if_match_kind == "stale":
                expected = StaleVersionError
            new: Doc = {}
            if expected is None:
                assert tracked is not None
                if put:
                    new = {"name": document["name"], "config": document.get("config", {}),
                           "tags": document.get("tags", {}),
                           "enabled": document.get("enabled", True),
                           "scope": document.get("scope", "user")}
                else:
                    new = {
                        "name": document.get("name", tracked.name),
                        "config": merged(tracked.config, document.get("config", {})),
                        "tags": ({} if "tags" in document and document["tags"] is None
                                 else merged(tracked.tags, document.get("tags") or {})),
                        "enabled": document.get("enabled", tracked.enabled),
                        "scope": document.get("scope", tracked.scope),
                    }
                valid = (new["name"] not in BAD_NAMES and document.get("type", tracked.type)
                         == tracked.type and config_valid(tracked.type, new["config"])
                         and tags_valid(new["tags"]) and (secrets is None or secrets.valid))
                if not valid:
                    expected = ConnectorValidationError
            changed = False
            if expected is None:
                assert tracked is not None
                old = {"name": tracked.name, "config": tracked.config, "tags": tracked.tags,
                       "enabled": tracked.enabled, "scope": tracked.scope}
                changed = new != old or secrets is not None
                renamed = normalise_name(new["name"]) != normalise_name(tracked.name)
                if changed and renamed and self.taken_by_other(new["name"], tracked.uuid):
                    expected = ConnectorNameTakenError
            outcome = self.attempt(expected, lambda: registry.app.update_connector(
                access, target, document, if_match, patch=not put))
            if outcome is None:
                return
            assert tracked is not None
            state, reported = outcome
            assert reported == changed, (reported, changed)
            if not changed:
                self.check_returned(tracked, state)
                return
            if normalise_name(new["name"]) != normalise_name(tracked.name):
                del self.names[normalise_name(tracked.name)]
                self.names[normalise_name(new["name"])] = tracked.uuid
            tracked.name, tracked.config = new["name"], new["config"]
            tracked.tags, tracked.enabled = new["tags"], new["enabled"]
            tracked.scope = new["scope"]
            if secrets is not None:
                tracked.credential_fields = secrets.fields
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("active"))
        @rule(data=st.data())
        def rotate(self, data: st.DataObject) -> None:
            """New credentials: always one revision, never a value in the state."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            secrets = data.draw(credentials(tracked.type if tracked else "github"),
                                label="credentials")
            self.secrets.update(secrets.values)
            expected = self.gate(tracked, access, deleted_ok=False)
            if expected is None and not secrets.valid:
                expected = ConnectorValidationError
            state = self.attempt(expected, lambda: registry.app.rotate_connector_credentials(
                access, target, secrets.document))
            if state is None:
                return
            assert tracked is not None
            tracked.credential_fields = secrets.fields
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("active"))
        @rule(data=st.data(), cascade=st.booleans())
        def delete(self, data: st.DataObject, cascade: bool) -> None:
            """Soft-delete (no schemas are attached, so cascade or not makes no difference)."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=False)
            state = self.attempt(expected, lambda: registry.app.delete_connector(
                access, target, cascade=cascade))
            if state is None:
                return
            assert tracked is not None
            tracked.status, tracked.deleted_by = "deleted", by_of(access.actor)
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("deleted"))
        @rule(data=st.data())
        def restore(self, data: st.DataObject) -> None:
            """Bring back a deleted connector; an active one answers not deleted."""
            tracked, target = self.target(data, "deleted")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=True)
            if expected is None and tracked is not None and tracked.status == "active":
                expected = ConnectorNotDeletedError
            state = self.attempt(expected,
                                 lambda: registry.app.restore_connector(access, target))
            if state is None:
                return
            assert tracked is not None
            tracked.status, tracked.deleted_by = "active", None
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("active", "deleted"))
        @rule(data=st.data())
        def erase(self, data: st.DataObject) -> None:
            """Erase: one erase record stays, every content revision goes, the name is free."""
            tracked, target = self.target(data, "active", "deleted")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=True)
            state = self.attempt(expected,
                                 lambda: registry.app.erase_connector(access, target))
            if state is None:
                return
            assert tracked is not None
            assert state.erased and not state.exists
            assert state.revision == tracked.revision + 1
            tracked.erased_versions = tracked.revision
            tracked.revision += 1
            tracked.status = "erased"
            tracked.versions.clear()
            tracked.changed_by = {tracked.revision: by_of(access.actor)}
            tracked.configs, tracked.connections, tracked.variables = {}, {}, []
            if self.names.get(normalise_name(tracked.name)) == tracked.uuid:
                del self.names[normalise_name(tracked.name)]

        @precondition(having("active"))
        @rule(data=st.data(), config_id=st.sampled_from(CONFIG_IDS),
              scheme=st.sampled_from(SCHEMES))
        def add_config(self, data: st.DataObject, config_id: str, scheme: str) -> None:
            """Add an auth scheme config; an id the connector has answers exists."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=False)
            if expected is None and tracked is not None and config_id in tracked.configs:
                expected = AuthSchemeConfigExistsError
            config = {"id": config_id, "schemeType": scheme,
                      **({"name": "X-Key"} if scheme == "api-key" else {})}
            state = self.attempt(expected, lambda: registry.app.add_auth_scheme_config(
                access, target, config))
            if state is None:
                return
            assert tracked is not None
            tracked.configs[config_id] = scheme
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("active"))
        @rule(data=st.data(), name=st.sampled_from(CONNECTION_NAMES),
              config_id=st.sampled_from((None, *CONFIG_IDS)),
              variables=st.sampled_from((None, *VARIABLE_SETS)))
        def add_connection(self, data: st.DataObject, name: str, config_id: str | None,
                           variables: list[Doc] | None) -> None:
            """Add a connection using the example's credential through ``config_id`` (none:
            no credential); the config must be the connector's and its scheme fit a string."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=False)
            if expected is None and tracked is not None:
                if name in tracked.connections:
                    expected = ConnectionNameTakenError
                elif config_id is not None and tracked.configs.get(config_id) not in (
                        "api-key", "bearer"):
                    expected = ConnectorValidationError
            action = [] if config_id is None else [
                {"authSchemeConfig": config_id, "credential": self.credential.credential_id}]
            document: Doc = {"name": name, "credentials": {"action": action}}
            if variables is not None:
                document["variables"] = variables
            outcome = self.attempt(expected, lambda: registry.app.add_connection(
                access, target, document))
            if outcome is None:
                return
            assert tracked is not None
            tracked.connections[name] = {
                "variables": variables if variables is not None else list(tracked.variables),
                "uses": config_id is not None}
            tracked.record(outcome[0], by_of(access.actor))
            self.check_returned(tracked, outcome[0])

        @precondition(having("active"))
        @rule(data=st.data(), name=st.sampled_from(CONNECTION_NAMES))
        def remove_connection(self, data: st.DataObject, name: str) -> None:
            """Remove a connection; one the connector lacks answers not found."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=False)
            if expected is None and tracked is not None and name not in tracked.connections:
                expected = ConnectionNotFoundError
            state = self.attempt(expected, lambda: registry.app.remove_connection(
                access, target, name))
            if state is None:
                return
            assert tracked is not None
            del tracked.connections[name]
            tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        @precondition(having("active"))
        @rule(data=st.data(), variables=st.sampled_from(VARIABLE_SETS))
        def set_variables(self, data: st.DataObject, variables: list[Doc]) -> None:
            """PATCH ``connectionVariables``: they overwrite every connection's variables."""
            tracked, target = self.target(data, "active")
            access = self.access(data)
            expected = self.gate(tracked, access, deleted_ok=False)
            outcome = self.attempt(expected, lambda: registry.app.update_connector(
                access, target, {"connectionVariables": variables}, None, patch=True))
            if outcome is None:
                return
            assert tracked is not None
            state, changed = outcome
            assert changed == (variables != tracked.variables or any(
                c["variables"] != variables for c in tracked.connections.values()))
            if changed:
                tracked.variables = list(variables)
                for connection in tracked.connections.values():
                    connection["variables"] = list(variables)
                tracked.record(state, by_of(access.actor))
            self.check_returned(tracked, state)

        # Invariants ------------------------------------------------------------------------

        @invariant()
        def the_credential_knows_who_uses_it(self) -> None:
            state = registry.credentials.get(self.tenant, self.credential.id)
            assert state is not None
            users = sorted((t.uuid, name) for t in self.tracked if t.status != "erased"
                           for name, c in t.connections.items() if c["uses"])
            assert sorted((uuid.UUID(u["connectorId"]), u["connectionName"])
                          for u in state.usages) == users

        @invariant()
        def read_models_show_the_model(self) -> None:
            queries = registry.connectors
            for tracked in self.tracked:
                head = queries.head(self.tenant, tracked.uuid)
                assert head is not None
                assert (head.version, head.status) == (tracked.revision, tracked.status)
                current = queries.get(self.tenant, tracked.uuid)
                assert current is not None
                history = queries.history(self.tenant, tracked.uuid)
                entries = [(r.version, r.erased_versions, r.changed_by) for r in history]
                if tracked.status == "erased":
                    assert current.erased and not current.exists
                    assert current.revision == current.erased_through == tracked.revision
                    assert entries == [(tracked.revision, tracked.erased_versions,
                                        tracked.changed_by[tracked.revision])]
                    assert history[0].changes == ["Erased"]
                    for number in range(1, tracked.revision + 1):
                        assert queries.version(self.tenant, tracked.uuid, number) is None
                    continue
                assert current == tracked.versions[tracked.revision]
                assert fields_of(current) == tracked.fields()
                assert entries == [(n, None, tracked.changed_by[n])
                                   for n in range(tracked.revision, 0, -1)]
                assert history[-1].changes == ["Initial creation"]
                assert all(r.changes for r in history), "a revision lists no change"
                for number in range(1, tracked.revision + 1):
                    version = queries.version(self.tenant, tracked.uuid, number)
                    assert version == tracked.versions[number], f"version {number}"
                assert queries.version(self.tenant, tracked.uuid, tracked.revision + 1) is None
                assert queries.get(f"{self.tenant}-other", tracked.uuid) is None
            listed = {
                flag: [s.id for s in queries.page(self.tenant, include_deleted=flag, limit=100)]
                for flag in (True, False)
            }
            shown = {
                flag: sorted((t for t in self.tracked
                              if t.status == "active" or (flag and t.status == "deleted")),
                             key=lambda t: encode_connector_id(t.uuid))
                for flag in (True, False)
            }
            assert listed == {flag: [t.uuid for t in shown[flag]] for flag in shown}

        @invariant()
        def no_row_holds_a_credential(self) -> None:
            found = rows(registry, "WHERE tenant = %s", (self.tenant,))
            text = repr(found)
            leaked = [secret for secret in self.secrets if secret in text]
            assert not leaked, f"credential values in the read models: {leaked}"

        def teardown(self) -> None:
            """Replaying this example's events gives this tenant's rows exactly as they are.

            The replay runs the connector read model's own ``apply`` over the events stored
            since the example began (all of them this tenant's) in a transaction that is
            rolled back, so its cost does not grow with the examples before it; the test
            ends with a real rebuild of everything.
            """
            before = rows(registry, "WHERE tenant = %s", (self.tenant,))
            assert replayed(registry, self.tenant, self.start) == before, (
                "the connector read models differ from a replay of the events")

    return ConnectorMachine


class _RollBack(Exception):
    """Ends a transaction whose writes must not stay."""


def replayed(registry: Registry, tenant: str, start: int) -> dict[str, Any]:
    """The tenant's connector rows as a replay of the events after ``start`` makes them."""
    projection = next(p for p in registry.projector.projections if p.name == "connectors")
    notifications = registry.app.recorder.select_notifications(
        start=start, limit=100_000, inclusive_of_start=False)
    events = [registry.app.mapper.to_domain_event(n) for n in notifications]
    found: dict[str, Any] = {}
    try:
        with registry.db.transaction(write=True) as cur:
            for table in TABLES:
                cur.execute(f"DELETE FROM {table} WHERE tenant = %s", (tenant,))
            for event in events:
                projection.apply(cur, event)
            for table in TABLES:
                found[table] = cur.all(
                    f"SELECT * FROM {table} WHERE tenant = %s ORDER BY {ORDER[table]}",
                    (tenant,))
            raise _RollBack
    except _RollBack:
        pass
    return found


def every_row(registry: Registry) -> str:
    """Every row of every read model, as one text to search."""
    with registry.db.transaction(write=False) as cur:
        return repr([
            cur.all(f"SELECT * FROM {table}")
            for projection in registry.projector.projections
            for table in projection.tables
        ])


def test_random_connector_commands_match_the_model(backend: Backend, registry: Registry) -> None:
    """Each example: a fresh tenant, random connector commands, the reads after every step.

    Then the read models must equal a rebuild from the event store, and no read-model table
    may hold any credential value any example sent.
    """
    sent: set[str] = set()
    run_state_machine_as_test(
        make_machine(registry, sent),
        settings=settings(
            max_examples=int(os.environ.get("PROPERTY_EXAMPLES", EXAMPLES[backend.name])),
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    before = rows(registry)
    assert before["registry_connector_versions"], "no connector was ever created"
    position = registry.projector.position()
    assert registry.rebuild() == position
    assert rows(registry) == before, "the connector read models differ from a fresh rebuild"
    text = every_row(registry)
    assert sent and not [secret for secret in sent if secret in text]
