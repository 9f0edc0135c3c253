"""The Schema aggregate: each method records the events it should, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from domain.common import Actor
from domain.compatibility import Mode
from domain.errors import (
    SchemaAlreadyExistsError,
    SchemaDeletedError,
    SchemaErasedError,
    SchemaNotDeletedError,
)
from domain.ids import schema_uuid
from domain.model import COMPATIBILITY_MODES, fingerprint, parse_content
from domain.schema import KEEP, Schema, SchemaRedacted
from tests.fixtures import devices, seed_create

ALICE = Actor("alice-sub", "acme", "alice@example.com", app_id="app-1")
BOB = Actor("bob-sub", "acme")


def created(document: dict[str, Any] | None = None) -> Schema:
    content = parse_content(document or seed_create())
    schema = Schema.create(ALICE, "connector-uuid", "account", content)
    schema.collect_events()
    return schema


def names(schema: Schema) -> list[str]:
    return [type(e).__name__ for e in schema.collect_events()]


def test_create_records_one_created_event_with_actor_and_tenant() -> None:
    schema = Schema.create(ALICE, "connector-uuid", "account", parse_content(seed_create()))
    (event,) = schema.collect_events()
    assert isinstance(event, Schema.Created)
    assert event.originator_id == schema_uuid("acme", "connector-uuid", "account")
    assert (event.revision, event.tenant, event.actor_subject) == (1, "acme", "alice-sub")
    assert (event.actor_email, event.app_id) == ("alice@example.com", "app-1")
    assert schema.state.revision == 1
    assert schema.state.created_by == "alice@example.com"


def test_a_put_changing_three_things_is_one_revision_of_three_events() -> None:
    schema = created()
    document = seed_create()
    document["name"] = "Renamed"
    document["fields"][1]["type"] = "email"
    document["fields"].append({"name": "department", "type": "string"})
    assert schema.replace(BOB, parse_content(document)) is True
    events = schema.collect_events()
    assert [type(e).__name__ for e in events] == ["Renamed", "FieldChanged", "FieldAdded"]
    assert {e.revision for e in events} == {2}
    assert len({e.timestamp for e in events}) == 1
    assert schema.state.revision == 2
    assert schema.state.updated_by == "bob-sub"


def test_a_put_changing_nothing_records_nothing() -> None:
    schema = created()
    assert schema.replace(BOB, parse_content(seed_create())) is False
    assert schema.collect_events() == []
    assert schema.state.revision == 1


def test_field_and_relationship_changes() -> None:
    schema = created(devices())
    document = devices()
    document["fields"].pop(1)
    document["fields"][0]["description"] = None
    document["fields"][0]["required"] = False
    document["entityType"] = "endpoint"
    document["relationships"] = [{"name": "owner", "target": "account", "cardinality": "many"},
                                 {"name": "site", "target": "location"}]
    schema.replace(BOB, parse_content(document))
    events = schema.collect_events()
    assert [type(e).__name__ for e in events] == [
        "EntityTypeChanged", "FieldRemoved", "FieldChanged", "RelationshipRemoved",
        "RelationshipAdded", "RelationshipAdded",
    ]
    changed = events[2]
    assert isinstance(changed, Schema.FieldChanged)
    assert changed.changes == {"required": False, "description": None}
    assert [f.name for f in schema.state.content.fields] == ["serial", "lastSeen"]  # type: ignore[union-attr]


def test_delete_restore_and_their_guards() -> None:
    schema = created()
    with pytest.raises(SchemaNotDeletedError):
        schema.restore(BOB)
    schema.delete(BOB)
    assert names(schema) == ["Deleted"]
    with pytest.raises(SchemaDeletedError):
        schema.replace(BOB, parse_content(seed_create()))
    with pytest.raises(SchemaDeletedError):
        schema.delete(BOB)
    schema.restore(BOB)
    assert names(schema) == ["Restored"]
    assert schema.state.revision == 3
    assert schema.state.deleted is False


def test_erase_forgets_content_and_counts_erased_versions() -> None:
    schema = created()
    schema.delete(BOB)
    schema.erase(BOB)
    events = schema.collect_events()
    erased = events[-1]
    assert isinstance(erased, Schema.Erased)
    assert erased.erased_versions == 2
    assert Schema.Erased.shredded is False and Schema.Created.shredded is True
    assert not hasattr(erased, "name") and not hasattr(erased, "fields")
    assert schema.state.content is None and schema.state.erased
    assert schema.state.erased_through == 3
    for command in (lambda: schema.erase(BOB), lambda: schema.delete(BOB),
                    lambda: schema.restore(BOB)):
        with pytest.raises(SchemaErasedError):
            command()


def test_recreate_after_erase_continues_versions() -> None:
    schema = created()
    schema.erase(BOB)
    schema.recreate(ALICE, "connector-uuid", "account", parse_content(devices()))
    assert names(schema)[-1] == "Recreated"
    assert schema.state.revision == 3
    assert schema.state.created_by == "alice@example.com"
    with pytest.raises(SchemaAlreadyExistsError):
        schema.recreate(ALICE, "connector-uuid", "account", parse_content(devices()))
    schema.erase(BOB)
    assert schema.collect_events()[-1].erased_versions == 1  # type: ignore[attr-defined]


def test_redacted_events_rebuild_a_shell_that_the_erase_completes() -> None:
    schema = created()
    schema.erase(BOB)
    erase_event = schema.collect_events()[-1]
    first = SchemaRedacted(originator_id=schema.id, originator_version=1,
                           timestamp=erase_event.timestamp)
    shell = first.mutate(None)
    rebuilt = erase_event.mutate(shell)
    assert rebuilt.state == schema.state


def test_an_erase_records_when_the_erased_versions_began() -> None:
    schema = created()
    began = schema.state.created_at
    schema.erase(BOB)
    (event,) = schema.collect_events()
    assert isinstance(event, Schema.Erased)
    assert began is not None and event.erased_since == began
    old: dict[str, Any] = {"erased_versions": 1}
    Schema.Erased.upcast_v1_v2(old)  # erases stored before the field existed
    assert old == {"erased_versions": 1, "erased_since": None}


def test_a_mode_given_on_create_is_a_second_event_of_the_first_revision() -> None:
    content = parse_content(seed_create())
    schema = Schema.create(ALICE, "connector-uuid", "account", content, "FULL")
    events = schema.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "CompatibilityChanged"]
    assert {e.revision for e in events} == {1}
    assert schema.state.compatibility == "FULL" and schema.state.revision == 1
    assert schema.holds(content) and schema.holds(content, "FULL")
    assert not schema.holds(content, None) and not schema.holds(content, "NONE")
    plain = Schema.create(ALICE, "connector-uuid", "other", content)
    assert names(plain) == ["Created"] and plain.state.compatibility is None


def test_replace_keeps_sets_and_clears_the_mode() -> None:
    schema = created()
    content = parse_content(seed_create())
    assert schema.replace(BOB, content) is False
    assert schema.replace(BOB, content, None) is False
    assert schema.mode_after(KEEP) is None and schema.mode_after("NONE") == "NONE"
    assert schema.replace(BOB, content, "NONE") is True
    (event,) = schema.collect_events()
    assert isinstance(event, Schema.CompatibilityChanged)
    assert (event.mode, event.revision) == ("NONE", 2)
    assert schema.replace(BOB, content) is False
    assert schema.state.compatibility == "NONE"
    renamed = parse_content(seed_create() | {"name": "Renamed"})
    assert schema.replace(BOB, renamed, None) is True
    assert names(schema) == ["Renamed", "CompatibilityChanged"]
    assert schema.state.compatibility is None and schema.state.revision == 3


def test_the_mode_is_not_part_of_the_content_or_its_fingerprint() -> None:
    plain = parse_content(seed_create())
    assert parse_content(seed_create() | {"compatibility": "FULL"}) == plain
    assert fingerprint(parse_content(seed_create() | {"compatibility": "NONE"})) == fingerprint(
        plain)


def test_the_model_lists_every_mode() -> None:
    assert tuple(Mode) == COMPATIBILITY_MODES
