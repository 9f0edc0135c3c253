"""Property-based test of the schemas API against an independent model of schemas and versions.

Random sequences of create / update / delete / restore / erase over a small pool of
(connectorId, key) pairs, sent by an admin or an editor, go through the real HTTP API. A
plain-Python model predicts every answer (status code, problem type, version,
``updated``/``unchanged``), every version's document (who created, updated, deleted it) and
the one audit record each write leaves; rejected and no-op commands must store no schema event
and change no read-model row. After each sequence every version, the current state, the
history and the list are read back through the API, the reads made after every step are
asked again ``asOf`` that moment and must answer the same, and the read models are compared
with a fresh rebuild from the event store. Each example runs in a tenant of its own, because the
database is created once per test function, not per example.
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from domain.common import iso_timestamp
from domain.ids import encode_schema_id, schema_uuid
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import API, Credentials, headers

Client = TestClient[Any]
Doc = dict[str, Any]

EXAMPLES = {"sqlite": 60, "postgres": 25}
"""Examples per backend; ``PROPERTY_EXAMPLES`` overrides both for a longer hunt."""
MAX_STEPS = 12
PROBLEM = "https://connector-schema-registry.dev/problems/"

POOL = (("conn-a", "users"), ("conn-a", "groups"), ("conn-b", "users"))
CONNECTORS = ("conn-a", "conn-b")
SCALARS = (
    "string", "integer", "number", "boolean", "date", "datetime", "uuid", "email", "url", "json",
)
FIELD_TYPES = SCALARS + tuple(f"{t}[]" for t in SCALARS)
FIELD_NAMES = ("id", "userId", "email", "display_name", "tags", "createdAt", "_score", "x9")
REL_NAMES = ("owner", "members", "parent")
ENTITY_TYPES = ("account", "group", "device", "user.v2", "users")
SCHEMA_NAMES = ("Users", "Groups", "Custom REST API")
DESCRIPTIONS = ("", "Primary key", "ünïcode ✓")
COMPARED = ("name", "entityType", "connectorId", "key", "fields", "relationships", "version",
            "deleted", "createdBy", "updatedBy", "deletedBy")
ACTORS = (("admin-1", "admin@example.com", ("admin",)), ("editor-2", None, ("editor",)))
"""Who sends a step: an admin known by e-mail, or an editor (no e-mail, may not erase)."""

# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Create:
    """POST /schemas for one pair of the pool."""

    pair: int
    content: Doc
    omit_key: bool = False
    """Leave ``key`` out and use the key as entityType (the key defaults to the entityType)."""
    invalid: bool = False
    """No field is primary: 422 whatever the state."""
    actor: int = 0
    repeat: bool = False
    """Send the current content again (an identical create of a live schema: ``unchanged``)."""


@dataclass(frozen=True)
class Update:
    """PUT /schemas/{id} with a body built from the model's current content."""

    pair: int
    content: Doc
    mode: str = "replace"
    """replace: send ``content``; same: the current content; merge: current and ``content``;
    roundtrip: the current ``GET`` answer as it is, read-only properties included."""
    seed: int = 0
    """Shuffles the body's fields and relationships (order alone never makes a change)."""
    strip_defaults: bool = False
    ids: str = "none"
    """none / match (send the current connectorId and key) / wrong (another connectorId)."""
    if_match: str = "none"
    """none / current / stale / any (``*``)."""
    invalid: bool = False
    actor: int = 0


@dataclass(frozen=True)
class Delete:
    """DELETE /schemas/{cid}/{id}."""

    pair: int
    wrong_cid: bool = False
    actor: int = 0


@dataclass(frozen=True)
class Restore:
    """POST /schemas/{cid}/{id}/restore."""

    pair: int
    wrong_cid: bool = False
    actor: int = 0


@dataclass(frozen=True)
class Erase:
    """DELETE /schemas/{cid}/{id}/erase."""

    pair: int
    wrong_cid: bool = False
    actor: int = 0


Step = Create | Update | Delete | Restore | Erase

# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

CONTROL = "".join(map(chr, range(0x20))) + "\x7f"
schema_names = st.text(
    st.characters(codec="utf-8", exclude_characters=CONTROL), min_size=1, max_size=20
)
"""Schema names: no C0 control character nor DEL (and no lone surrogate: not JSON text)."""
texts = st.text(
    st.characters(codec="utf-8", exclude_characters=CONTROL.translate(dict.fromkeys(b"\t\n\r"))),
    max_size=20,
)
"""Descriptions: tab, newline and carriage return are allowed."""


@st.composite
def field_documents(draw: st.DrawFn, name: str) -> Doc:
    """A field; optional attributes are sometimes left out to exercise their defaults."""
    document: Doc = {"name": name, "type": draw(st.sampled_from(FIELD_TYPES))}
    for attribute in ("primary", "required"):
        value = draw(st.booleans())
        if value or draw(st.booleans()):
            document[attribute] = value
    description = draw(st.none() | st.sampled_from(DESCRIPTIONS) | texts)
    if description is not None or draw(st.booleans()):
        document["description"] = description
    return document


@st.composite
def relationship_documents(draw: st.DrawFn, name: str) -> Doc:
    """A relationship; the cardinality is sometimes left to its default."""
    document: Doc = {"name": name, "target": draw(st.sampled_from(("account", "group")))}
    cardinality = draw(st.sampled_from(("one", "many", None)))
    if cardinality is not None:
        document["cardinality"] = cardinality
    return document


@st.composite
def contents(draw: st.DrawFn) -> Doc:
    """name, entityType, fields (at least one primary) and sometimes relationships."""
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), min_size=1, max_size=5, unique=True))
    fields = [draw(field_documents(name)) for name in names]
    if not any(f.get("primary") for f in fields):
        fields[draw(st.integers(0, len(fields) - 1))]["primary"] = True
    document: Doc = {
        "name": draw(st.sampled_from(SCHEMA_NAMES) | schema_names),
        "entityType": draw(st.sampled_from(ENTITY_TYPES)),
        "fields": fields,
    }
    if draw(st.booleans()):
        rel_names = draw(st.lists(st.sampled_from(REL_NAMES), max_size=3, unique=True))
        document["relationships"] = [draw(relationship_documents(n)) for n in rel_names]
    return document


pairs = st.integers(0, len(POOL) - 1)
rarely = st.sampled_from((False,) * 9 + (True,))
"""True about one time in ten (integers would be drawn at their bounds far more often)."""
sometimes = st.sampled_from((False,) * 4 + (True,))
"""True about one time in five: a wrong ``{connectorId}`` in delete, restore and erase."""
actors = st.sampled_from((0, 0, 1))


def creates(pair: st.SearchStrategy[int]) -> st.SearchStrategy[Create]:
    """Create steps for the pairs ``pair`` draws."""
    return st.builds(Create, pair, contents(), st.booleans(), rarely, actors, sometimes)


def updates(pair: st.SearchStrategy[int]) -> st.SearchStrategy[Update]:
    """Update steps for the pairs ``pair`` draws."""
    return st.builds(
        Update,
        pair,
        contents(),
        st.sampled_from(("replace", "same", "merge", "roundtrip")),
        st.integers(0, 2**16),
        st.booleans(),
        st.sampled_from(("none", "none", "none", "match", "wrong")),
        st.sampled_from(("none", "none", "none", "current", "stale", "any")),
        rarely,
        actors,
    )


LIFECYCLE_STEPS: dict[str, type[Delete | Restore | Erase]] = {
    "delete": Delete, "restore": Restore, "erase": Erase,
}
KINDS = ("update", "update", "update", "create", "delete", "restore", "erase")


@st.composite
def sequences(draw: st.DrawFn) -> list[Step]:
    """A few creates first, then steps mostly on the pairs created (updates most often)."""
    first = draw(st.lists(creates(pairs), min_size=1, max_size=len(POOL), unique_by=_pair))
    known = st.sampled_from(sorted({c.pair for c in first}))
    pair = st.one_of(known, known, known, pairs)
    sequence: list[Step] = list(first)
    for _ in range(draw(st.integers(0, MAX_STEPS - len(first)))):
        kind = draw(st.sampled_from(KINDS))
        if kind == "update":
            sequence.append(draw(updates(pair)))
        elif kind == "create":
            sequence.append(draw(creates(pair)))
        else:
            sequence.append(LIFECYCLE_STEPS[kind](draw(pair), draw(sometimes), draw(actors)))
    return sequence


def _pair(step: Step) -> int:
    return step.pair


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


def normal_field(document: Doc) -> Doc:
    """A field as the API shows it, defaults filled in."""
    return {
        "name": document["name"],
        "type": document["type"],
        "primary": document.get("primary", False),
        "required": document.get("required", False),
        "description": document.get("description"),
    }


def normal_relationship(document: Doc) -> Doc:
    """A relationship as the API shows it, defaults filled in."""
    return {
        "name": document["name"],
        "target": document["target"],
        "cardinality": document.get("cardinality", "one"),
    }


def normal_content(body: Doc) -> Doc:
    """The content of a create body as the API shows it."""
    return {
        "name": body["name"],
        "entityType": body["entityType"],
        "fields": [normal_field(f) for f in body["fields"]],
        "relationships": [normal_relationship(r) for r in body.get("relationships", [])],
    }


def same_content(one: Doc, other: Doc) -> bool:
    """Equal but for the order of fields and relationships (order is not content)."""
    def key(doc: Doc) -> Doc:
        return {**doc, "fields": sorted(doc["fields"], key=lambda f: str(f["name"])),
                "relationships": sorted(doc["relationships"], key=lambda r: str(r["name"]))}
    return key(one) == key(other)


def replaced(current: Doc, body: Doc) -> Doc:
    """The content after a PUT of ``body``: the domain's ordering rules, written out again.

    Kept fields stay where they were (with their new attributes), new fields are appended in
    the body's order; unchanged relationships stay, changed and new ones are appended.
    """
    new_fields = [normal_field(f) for f in body["fields"]]
    new_by_name = {f["name"]: f for f in new_fields}
    old_names = {f["name"] for f in current["fields"]}
    fields = [new_by_name[f["name"]] for f in current["fields"] if f["name"] in new_by_name]
    fields += [f for f in new_fields if f["name"] not in old_names]
    new_rels = [normal_relationship(r) for r in body.get("relationships", [])]
    new_rels_by_name = {r["name"]: r for r in new_rels}
    old_rels_by_name = {r["name"]: r for r in current["relationships"]}
    rels = [r for r in current["relationships"] if new_rels_by_name.get(r["name"]) == r]
    rels += [r for r in new_rels if old_rels_by_name.get(r["name"]) != r]
    return {
        "name": body["name"],
        "entityType": body["entityType"],
        "fields": fields,
        "relationships": rels,
    }


@dataclass
class Tracked:
    """What the model knows about one pair of the pool."""

    connector_id: str
    key: str
    schema_id: str
    uuid: str
    status: str = "absent"
    """absent / active / deleted / erased."""
    content: Doc | None = None
    versions: list[Doc | None] = field(default_factory=list)
    """The document after each version (index 0 is version 1); None once erased."""
    history: list[tuple[int, int | None, str]] = field(default_factory=list)
    """(version, erasedVersions, changedBy) of every history entry kept, oldest first."""
    incarnation: int = 1
    """The first version since the last create (or recreate)."""
    created_by: str | None = None
    updated_by: str | None = None
    deleted_by: str | None = None

    @property
    def revision(self) -> int:
        return len(self.versions)

    def document(self, version: int | None = None) -> Doc:
        """The compared part of the current document (or of the next ``version``)."""
        assert self.content is not None
        return {
            **self.content,
            "connectorId": self.connector_id,
            "key": self.key,
            "version": self.revision if version is None else version,
            "deleted": self.status == "deleted",
            "createdBy": self.created_by,
            "updatedBy": self.updated_by,
            "deletedBy": self.deleted_by,
        }

    def record(self, by: str) -> None:
        """One accepted command: one new version."""
        self.updated_by = by
        self.versions.append(self.document(self.revision + 1))
        self.history.append((self.revision, None, by))

    def erase(self, by: str) -> None:
        """Every version since the last erase goes, and the erase record is a version."""
        erased = sum(1 for v in self.versions if v is not None)
        self.versions = [None] * (len(self.versions) + 1)
        self.history = [h for h in self.history if h[1] is not None]
        self.history.append((self.revision, erased, by))
        self.status, self.content = "erased", None


class Run:
    """Drives one example: sends each step, checks its answer and advances the model."""

    def __init__(self, client: Client, registry: Registry, tenant: str) -> None:
        self.client = client
        self.registry = registry
        self.tenant = tenant
        self.callers = [
            headers(tenant=tenant, subject=subject, email=email, roles=roles)
            for subject, email, roles in ACTORS
        ]
        self.headers = self.callers[0]
        """The admin's credentials, for reads and checks."""
        self.response: Any = None
        """The answer to the last command sent."""
        self.caller, self.by = self.headers, ""
        """Who sends the current step: credentials, and the name versions show for them."""
        self.connectors = {label: Credentials.connector_id(tenant, label, compatibility="NONE")
                           for label in CONNECTORS}
        """The tenant's real connector for each label of the pool, in mode ``NONE``: the model
        replaces contents freely (compatibility has tests of its own)."""
        self.past: list[tuple[str, Tracked, int, list[tuple[str, dict[str, str], int, Any]]]] = []
        """What plain reads answered at each moment, asked again ``asOf`` it at the end."""
        self.pool: list[Tracked] = []
        for label, key in POOL:
            connector_id = self.connectors[label]
            value = schema_uuid(tenant, connector_id, key)
            self.pool.append(Tracked(connector_id, key, encode_schema_id(value), str(value)))

    # Helpers ---------------------------------------------------------------------------------

    def rows(self) -> tuple[list[Doc], list[Doc]]:
        """This tenant's read-model rows."""
        with self.registry.db.transaction(write=False) as cur:
            schemas = cur.all(
                "SELECT * FROM registry_schemas WHERE tenant = %s ORDER BY uuid", (self.tenant,)
            )
            versions = cur.all(
                "SELECT * FROM registry_schema_versions WHERE tenant = %s"
                " ORDER BY uuid, version",
                (self.tenant,),
            )
        return schemas, versions

    def streams(self) -> list[int]:
        """How many events each schema of the pool has in the event store."""
        recorder = self.registry.app.recorder
        return [len(recorder.select_events(uuid.UUID(t.uuid))) for t in self.pool]

    def audit(self) -> dict[str, Doc]:
        """This tenant's audit records by id."""
        with self.registry.db.transaction(write=False) as cur:
            rows = cur.all(
                "SELECT id, method, schema_id, status, outcome FROM registry_audit"
                " WHERE tenant = %s",
                (self.tenant,),
            )
        return {row.pop("id"): row for row in rows}

    def wrong_cid(self, tracked: Tracked) -> str:
        return next(c for c in self.connectors.values() if c != tracked.connector_id)

    def check_connectors(self) -> None:
        """Each connector shows exactly the model's live schemas of it."""
        for connector_id in self.connectors.values():
            live = sorted(t.schema_id for t in self.pool
                          if t.connector_id == connector_id and t.status == "active")
            shown = self.client.get(f"/internal/v1/connectors/{connector_id}",
                                    headers=self.headers).json()
            assert (sorted(shown["schemas"]), shown["schemaCount"]) == (live, len(live))

    def remember(self, pair: int) -> None:
        """Read the pair's schema (and its history) and the list now, and note the moment."""
        url = f"{API}/schemas/{self.pool[pair].schema_id}"
        reads = [(url, {"includeDeleted": "true"}), (f"{url}/history", {}),
                 (f"{API}/schemas", {"includeDeleted": "true", "limit": "200"})]
        answers = []
        for path, params in reads:
            response = self.client.get(path, params=params, headers=self.headers)
            answers.append((path, params, response.status_code, _comparable(response)))
        tracked = self.pool[pair]
        revision = tracked.revision if tracked.status in ("active", "deleted") else 0
        self.past.append((iso_timestamp(datetime.now(UTC)) or "", tracked, revision, answers))

    def erased_since(self, schema_id: str, version: int) -> bool:
        tracked = next(t for t in self.pool if t.schema_id == schema_id)
        return tracked.versions[version - 1] is None

    def check_past(self) -> None:
        """Every read ``asOf`` a remembered moment answers what the plain read did then, but
        content erased since: the schema answers 410 and the list leaves it out."""
        for moment, tracked, revision, answers in self.past:
            gone = revision > 0 and self.erased_since(tracked.schema_id, revision)
            for path, params, status, body in answers:
                if gone and path != f"{API}/schemas":
                    status, body = 410, PROBLEM + "schema-erased"
                elif path == f"{API}/schemas":
                    kept = [d for d in body["schemas"]
                            if not self.erased_since(d["id"], d["version"])]
                    body = {**body, "schemas": kept}
                response = self.client.get(path, params={**params, "asOf": moment},
                                           headers=self.headers)
                assert (response.status_code, _comparable(response)) == (status, body), (
                    moment, path)

    # Steps -----------------------------------------------------------------------------------

    def step(self, step: Step) -> None:
        """Send one step; rejected and no-op commands must leave everything as it was."""
        tracked = self.pool[step.pair]
        before_rows, before_streams, before_audit = self.rows(), self.streams(), self.audit()
        before_revision = tracked.revision
        subject, email, _ = ACTORS[step.actor]
        self.by, self.caller = email or subject, self.callers[step.actor]
        if isinstance(step, Create):
            changed = self.create(tracked, step)
        elif isinstance(step, Update):
            changed = self.update(tracked, step)
        else:
            changed = self.lifecycle(tracked, step)
        streams = self.streams()
        others = [n for i, n in enumerate(streams) if i != step.pair]
        assert others == [n for i, n in enumerate(before_streams) if i != step.pair]
        if changed:
            assert tracked.revision == before_revision + 1
            assert streams[step.pair] > before_streams[step.pair]
        else:
            assert tracked.revision == before_revision
            assert streams == before_streams, "a rejected or no-op command stored schema events"
            assert self.rows() == before_rows, "a rejected or no-op command changed read models"
        self.check_audit(step, tracked, before_audit)

    def check_audit(self, step: Step, tracked: Tracked, before: dict[str, Doc]) -> None:
        """Every write request, accepted or not, leaves exactly one audit record."""
        new = [row for key, row in self.audit().items() if key not in before]
        status = self.response.status_code
        created = not isinstance(step, Create) or status in (200, 201)  # 200: unchanged
        assert new == [{
            "method": self.response.request.method,
            "schema_id": tracked.schema_id if created else None,
            "status": status,
            "outcome": outcome_of(status),
        }]

    def create(self, tracked: Tracked, step: Create) -> bool:
        content = tracked.content if step.repeat and tracked.content else step.content
        body: Doc = {**content, "connectorId": tracked.connector_id, "key": tracked.key}
        if step.omit_key:
            del body["key"]
            body["entityType"] = tracked.key
        if step.invalid:
            body["fields"] = [{**f, "primary": False} for f in body["fields"]]
        response = self.response = self.client.post(
            f"{API}/schemas", json=body, headers=self.caller
        )
        if step.invalid:
            return expect_problem(response, 422, "validation-failed")
        if tracked.status == "active" and same_content(normal_content(body), tracked.content or {}):
            assert response.status_code == 200, response.text
            assert response.json() == {"id": tracked.schema_id, "name": body["name"],
                                       "status": "unchanged", "version": tracked.revision}
            return False
        if tracked.status in ("active", "deleted"):
            expect_problem(response, 409, "schema-exists")
            problem = response.json()
            assert problem["existingId"] == tracked.schema_id
            assert ("soft-deleted" in problem["detail"]) == (tracked.status == "deleted")
            return False
        tracked.status, tracked.content = "active", normal_content(body)
        tracked.created_by, tracked.deleted_by = self.by, None
        tracked.record(self.by)
        tracked.incarnation = tracked.revision
        assert response.status_code == 201, response.text
        assert response.json() == {
            "id": tracked.schema_id, "name": body["name"], "status": "created",
            "version": tracked.revision,
        }
        assert response.headers["etag"] == f'"{tracked.revision}"'
        assert response.headers["location"] == f"{API}/schemas/{tracked.schema_id}"
        return True

    def update_body(self, tracked: Tracked, step: Update) -> Doc:
        current = tracked.content
        if step.mode == "same" and current is not None:
            body: Doc = {k: list(v) if isinstance(v, list) else v for k, v in current.items()}
        elif step.mode == "merge" and current is not None:
            drawn = {f["name"]: f for f in step.content["fields"]}
            kept = [f for f in current["fields"] if f["name"] not in drawn]
            drawn_rels = {r["name"]: r for r in step.content.get("relationships", [])}
            kept_rels = [r for r in current["relationships"] if r["name"] not in drawn_rels]
            body = {
                "name": current["name"],
                "entityType": current["entityType"],
                "fields": [*drawn.values(), *kept],
                "relationships": [*drawn_rels.values(), *kept_rels],
            }
        elif step.mode == "roundtrip" and current is not None and tracked.status == "active":
            response = self.client.get(f"{API}/schemas/{tracked.schema_id}", headers=self.headers)
            assert response.status_code == 200, response.text
            body = response.json()
            if step.seed % 2:  # read-only properties are checked for type, then ignored
                other = self.pool[(step.pair + 1) % len(self.pool)]
                body.update(
                    id=other.schema_id, uuid=other.uuid, version=body["version"] + 7,
                    deleted=True, createdBy="someone-else", updatedAt="2000-01-01T00:00:00Z",
                    deletedAt="2000-01-02T00:00:00Z", deletedBy=None,
                )
        else:
            body = dict(step.content)
        shuffle = random.Random(step.seed)
        body["fields"] = shuffle.sample(body["fields"], len(body["fields"]))
        if "relationships" in body:
            rels = body["relationships"]
            body["relationships"] = shuffle.sample(rels, len(rels))
        if step.strip_defaults:
            defaults = {"primary": False, "required": False, "description": None}
            body["fields"] = [
                {k: v for k, v in f.items() if k not in defaults or defaults[k] != v}
                for f in body["fields"]
            ]
            body["relationships"] = [
                {k: v for k, v in r.items() if (k, v) != ("cardinality", "one")}
                for r in body.get("relationships", [])
            ]
        if step.invalid:
            body["fields"] = [{**f, "primary": False} for f in body["fields"]]
        if step.ids == "match":
            body["connectorId"], body["key"] = tracked.connector_id, tracked.key
        elif step.ids == "wrong":
            body["connectorId"] = self.wrong_cid(tracked)
        return body

    def update(self, tracked: Tracked, step: Update) -> bool:
        body = self.update_body(tracked, step)
        extra = {
            "none": {},
            "current": {"If-Match": f'"{tracked.revision}"'},
            "stale": {"If-Match": f'"{tracked.revision + 1}"'},
            "any": {"If-Match": "*"},
        }[step.if_match]
        response = self.response = self.client.put(
            f"{API}/schemas/{tracked.schema_id}", json=body, headers={**self.caller, **extra}
        )
        if tracked.status == "absent":
            return expect_problem(response, 404, "schema-not-found")
        if tracked.status == "erased":
            return expect_problem(response, 410, "schema-erased")
        if tracked.status == "deleted":
            return expect_problem(response, 404, "schema-deleted")
        if step.if_match == "stale":  # checked before the body
            expect_problem(response, 412, "stale-version")
            assert response.json()["currentVersion"] == tracked.revision
            return False
        if step.invalid or step.ids == "wrong":
            return expect_problem(response, 422, "validation-failed")
        assert tracked.content is not None
        new = replaced(tracked.content, body)
        changed = new != tracked.content
        if changed:
            tracked.content = new
            tracked.record(self.by)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "id": tracked.schema_id, "name": body["name"],
            "status": "updated" if changed else "unchanged", "version": tracked.revision,
        }
        assert response.headers["etag"] == f'"{tracked.revision}"'
        return changed

    def lifecycle(self, tracked: Tracked, step: Delete | Restore | Erase) -> bool:
        cid = self.wrong_cid(tracked) if step.wrong_cid else tracked.connector_id
        path = f"{API}/schemas/{cid}/{tracked.schema_id}"
        if isinstance(step, Delete):
            response = self.client.delete(path, headers=self.caller)
        elif isinstance(step, Restore):
            response = self.client.post(f"{path}/restore", headers=self.caller)
        else:
            response = self.client.delete(f"{path}/erase", headers=self.caller)
        self.response = response
        if isinstance(step, Erase) and "admin" not in ACTORS[step.actor][2]:
            return expect_problem(response, 403, "forbidden")  # before anything else
        if tracked.status == "absent":
            return expect_problem(response, 404, "schema-not-found")
        if tracked.status == "erased":
            # An erased schema no longer knows its connector: 410 whichever cid is named.
            return expect_problem(response, 410, "schema-erased")
        if step.wrong_cid:
            return expect_problem(response, 404, "schema-not-found")
        if isinstance(step, Delete):
            if tracked.status == "deleted":
                return expect_problem(response, 404, "schema-deleted")
            tracked.status, tracked.deleted_by = "deleted", self.by
            tracked.record(self.by)
            assert response.status_code == 204, response.text
            assert response.content == b""
            return True
        if isinstance(step, Restore):
            if tracked.status == "active":
                return expect_problem(response, 409, "schema-not-deleted")
            tracked.status, tracked.deleted_by = "active", None
            tracked.record(self.by)
            assert tracked.content is not None
            assert response.status_code == 200, response.text
            assert response.json() == {
                "id": tracked.schema_id, "name": tracked.content["name"],
                "status": "restored", "version": tracked.revision,
            }
            return True
        tracked.erase(self.by)
        assert response.status_code == 204, response.text
        assert response.content == b""
        return True

    # Final checks ----------------------------------------------------------------------------

    def check(self) -> None:
        """Every version, the current state, the history and the list, as the model says."""
        for tracked in self.pool:
            self.check_versions(tracked)
            self.check_current(tracked)
            self.check_history(tracked)
        self.check_list()

    def check_versions(self, tracked: Tracked) -> None:
        base = f"{API}/schemas/{tracked.schema_id}/versions"
        documents: dict[int, Doc] = {}
        for number, expected in enumerate(tracked.versions, start=1):
            response = self.client.get(f"{base}/{number}", headers=self.headers)
            if expected is None:
                expect_problem(response, 410, "schema-erased")
                continue
            assert response.status_code == 200, (number, response.text)
            document = response.json()
            assert {k: document[k] for k in COMPARED} == expected, f"version {number}"
            assert (document["id"], document["uuid"]) == (tracked.schema_id, tracked.uuid)
            assert response.headers["etag"] == f'"{number}"'
            assert (document["deletedAt"] is not None) == expected["deleted"]
            assert (document["deletedBy"] is not None) == expected["deleted"]
            documents[number] = document
        beyond = self.client.get(f"{base}/{tracked.revision + 1}", headers=self.headers)
        slug = "schema-not-found" if tracked.status == "absent" else "version-not-found"
        expect_problem(beyond, 404, slug)
        # Within one incarnation createdAt never moves and updatedAt never goes back.
        alive = [documents[n] for n in sorted(documents) if n >= tracked.incarnation]
        assert len({d["createdAt"] for d in alive}) <= 1
        updated = [d["updatedAt"] for d in alive]
        assert updated == sorted(updated)

    def check_current(self, tracked: Tracked) -> None:
        url = f"{API}/schemas/{tracked.schema_id}"
        response = self.client.get(url, headers=self.headers)
        if tracked.status == "absent":
            expect_problem(response, 404, "schema-not-found")
        elif tracked.status == "erased":
            expect_problem(response, 410, "schema-erased")
        elif tracked.status == "deleted":
            expect_problem(response, 404, "schema-deleted")
            response = self.client.get(url, params={"includeDeleted": "true"}, headers=self.headers)
        if tracked.status in ("active", "deleted"):
            assert response.status_code == 200, response.text
            document = response.json()
            assert {k: document[k] for k in COMPARED} == tracked.document()
            assert response.headers["etag"] == f'"{tracked.revision}"'
            latest = self.client.get(f"{url}/versions/{tracked.revision}", headers=self.headers)
            assert document == latest.json(), "current document differs from its latest version"
        foreign = self.client.get(url, headers=headers(tenant=f"{self.tenant}-other"))
        expect_problem(foreign, 404, "schema-not-found")

    def check_history(self, tracked: Tracked) -> None:
        response = self.client.get(f"{API}/schemas/{tracked.schema_id}/history",
                                   headers=self.headers)
        if not tracked.history:
            expect_problem(response, 404, "schema-not-found")
            return
        assert response.status_code == 200, response.text
        entries = response.json()["history"]
        assert [(e["version"], e.get("erasedVersions"), e["changedBy"]) for e in entries] == list(
            reversed(tracked.history)
        )
        for entry in entries:
            assert entry["changes"], f"version {entry['version']} lists no change"
            if entry.get("erasedVersions") is not None:
                assert entry["changes"] == ["Erased"]
            elif entry["version"] == tracked.incarnation:
                assert entry["changes"] == ["Initial creation"]

    def check_list(self) -> None:
        for include_deleted, shown in (("true", ("active", "deleted")), ("false", ("active",))):
            response = self.client.get(
                f"{API}/schemas", params={"includeDeleted": include_deleted, "limit": "200"},
                headers=self.headers,
            )
            assert response.status_code == 200, response.text
            listed = {d["id"]: {k: d[k] for k in COMPARED} for d in response.json()["schemas"]}
            expected = {t.schema_id: t.document() for t in self.pool if t.status in shown}
            assert listed == expected


def _comparable(response: Any) -> Any:
    """A document as it is; a problem by its type (details and request ids differ)."""
    body = response.json()
    return body["type"] if response.status_code >= 400 else body


def outcome_of(status: int) -> str:
    """The audit outcome of a status, as documented."""
    if status in (401, 403):
        return "denied"
    return "rejected" if status >= 400 else "success"


def expect_problem(response: Any, status: int, slug: str) -> bool:
    """Assert an RFC 9457 problem answer; answers False (nothing changed) for ``step``."""
    assert response.status_code == status, (status, slug, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["type"]) == (status, PROBLEM + slug), body
    return False


def snapshot(registry: Registry) -> dict[str, list[Doc]]:
    """Every row of both schema read models, in a stable order."""
    with registry.db.transaction(write=False) as cur:
        return {
            "registry_schemas": cur.all("SELECT * FROM registry_schemas ORDER BY uuid"),
            "registry_schema_versions": cur.all(
                "SELECT * FROM registry_schema_versions ORDER BY uuid, version"
            ),
            "registry_schema_timeline": cur.all(
                "SELECT * FROM registry_schema_timeline ORDER BY uuid, version"
            ),
        }


def _seed(name: str, *names: str, rels: tuple[tuple[str, str], ...] = ()) -> Doc:
    fields = [{"name": name, "type": "string", "primary": True}]
    fields += [{"name": n, "type": "string[]"} for n in names]
    relationships = [{"name": n, "target": "group", "cardinality": c} for n, c in rels]
    document = {"name": "Scripted", "entityType": "account", "fields": fields}
    return {**document, "relationships": relationships} if relationships else document


LIFECYCLE: list[Step] = [
    Create(0, _seed("id", "tags")),
    Update(0, _seed("email", "id"), mode="merge", seed=3, actor=1),
    Update(0, _seed("id"), mode="same", seed=7, strip_defaults=True),
    Update(0, _seed("id"), mode="roundtrip", seed=1),
    Update(0, _seed("id"), mode="roundtrip", seed=2, if_match="current"),
    Create(0, _seed("id")),
    Delete(0, actor=1),
    Update(0, _seed("id")),
    Create(0, _seed("id")),
    Delete(0),
    Restore(0, wrong_cid=True),
    Restore(0),
    Restore(0),
    Erase(0, actor=1),
    Erase(0),
    Update(0, _seed("id")),
    Restore(0, wrong_cid=True),
    Delete(0),
    Create(0, _seed("x9")),
    Erase(0, wrong_cid=True),
    Delete(0),
    Erase(0),
    Erase(0),
    Create(1, _seed("id"), omit_key=True),
]
"""Every command in every state once, including re-creating an erased key twice."""

ORDERING: list[Step] = [
    Create(2, _seed("a", "b", "c", rels=(("owner", "one"), ("members", "many")))),
    Update(
        2,
        {
            "name": "Scripted",
            "entityType": "account",
            "fields": [
                {"name": "new1", "type": "json"},
                {"name": "c", "type": "string[]"},
                {"name": "a", "type": "uuid", "primary": True},
                {"name": "new0", "type": "date[]", "description": "second"},
            ],
            "relationships": [
                {"name": "members", "target": "group"},
                {"name": "owner", "target": "group", "cardinality": "one"},
                {"name": "parent", "target": "account", "cardinality": "many"},
            ],
        },
        if_match="current",
    ),
    Update(2, _seed("a"), mode="same", seed=5, if_match="stale"),
    Update(2, _seed("a"), mode="merge", seed=9, if_match="any"),
    Update(2, _seed("a"), ids="wrong"),
    Update(2, _seed("a"), ids="match", invalid=True),
    Update(2, _seed("a"), ids="match"),
]
"""Kept fields stay in place, new ones are appended, a changed relationship moves last."""


def test_random_command_sequences_match_the_model(
    backend: Backend, registry: Registry, client: Client
) -> None:
    """Each example: a fresh tenant, a random sequence, then every read and a rebuild."""

    @settings(
        max_examples=int(os.environ.get("PROPERTY_EXAMPLES", EXAMPLES[backend.name])),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(sequence=sequences())
    @example(sequence=LIFECYCLE)
    @example(sequence=ORDERING)
    def run(sequence: list[Step]) -> None:
        tenant = f"prop-{uuid.uuid4().hex[:16]}"
        driver = Run(client, registry, tenant)
        driver.remember(sequence[0].pair)
        for step in sequence:
            driver.step(step)
            driver.remember(step.pair)
        driver.check()
        driver.check_past()
        driver.check_connectors()
        before = snapshot(registry)
        position = registry.projector.position()
        assert registry.rebuild() == position
        assert snapshot(registry) == before, "the read models differ from a fresh rebuild"

    run()
