"""History texts between two consecutive documents."""

from __future__ import annotations

from typing import Any

import pytest

from projections.history import describe_changes


def field(name: str, type_: str = "string", primary: bool = False, required: bool = False,
          description: str | None = None) -> dict[str, Any]:
    return {"name": name, "type": type_, "primary": primary, "required": required,
            "description": description}


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Accounts", "entityType": "account", "deleted": False,
        "fields": [field("userId", primary=True), field("email")],
        "relationships": [{"name": "member", "target": "group", "cardinality": "many"}],
    }
    base.update(changes)
    return base


def test_no_previous_version_is_initial_creation() -> None:
    assert describe_changes(None, doc()) == ["Initial creation"]


def test_identical_documents_have_no_changes() -> None:
    assert describe_changes(doc(), doc()) == []


@pytest.mark.parametrize(
    ("after", "texts"),
    [
        (doc(name="Users"), ["Renamed schema: Accounts -> Users"]),
        (doc(entityType="user"), ["Changed entity type: account -> user"]),
        (doc(fields=[field("userId", primary=True), field("email"), field("department")]),
         ["Added field: department"]),
        (doc(fields=[field("userId", primary=True)]), ["Removed field: email"]),
        (doc(fields=[field("userId", primary=True), field("email", "email")]),
         ["Changed field email: type string -> email"]),
        (doc(fields=[field("userId", primary=True), field("email", primary=True)]),
         ["Changed field email: primary false -> true"]),
        (doc(fields=[field("userId", primary=True), field("email", required=True)]),
         ["Changed field email: required false -> true"]),
        (doc(fields=[field("userId", primary=True), field("email", description="Work mail")]),
         ["Changed field email: description null -> Work mail"]),
        (doc(relationships=[]), ["Removed relationship: member"]),
        (doc(relationships=[{"name": "member", "target": "group", "cardinality": "many"},
                            {"name": "manager", "target": "account", "cardinality": "one"}]),
         ["Added relationship: manager"]),
        (doc(relationships=[{"name": "member", "target": "team", "cardinality": "many"}]),
         ["Removed relationship: member", "Added relationship: member"]),
        (doc(deleted=True), ["Deleted"]),
    ],
)
def test_each_kind_of_change_has_its_text(after: dict[str, Any], texts: list[str]) -> None:
    assert describe_changes(doc(), after) == texts


def test_restored_and_field_order_is_not_a_change() -> None:
    assert describe_changes(doc(deleted=True), doc()) == ["Restored"]
    reordered = doc(fields=[field("email"), field("userId", primary=True)])
    assert describe_changes(doc(), reordered) == []


def test_several_changes_come_in_a_stable_order() -> None:
    after = doc(
        name="Users",
        entityType="user",
        fields=[field("userId", "uuid", primary=True, description="id"), field("dept")],
        relationships=[],
    )
    assert describe_changes(doc(), after) == [
        "Renamed schema: Accounts -> Users",
        "Changed entity type: account -> user",
        "Removed field: email",
        "Added field: dept",
        "Changed field userId: type string -> uuid",
        "Changed field userId: description null -> id",
        "Removed relationship: member",
    ]


def test_a_changed_mode_has_its_text_after_the_content_texts() -> None:
    assert describe_changes(doc(), doc(compatibility="NONE")) == [
        "Changed compatibility: inherited -> NONE"]
    assert describe_changes(doc(compatibility="BACKWARD"), doc(compatibility="FULL")) == [
        "Changed compatibility: BACKWARD -> FULL"]
    assert describe_changes(doc(compatibility="FULL"), doc(name="U", compatibility=None)) == [
        "Renamed schema: Accounts -> U", "Changed compatibility: FULL -> inherited"]
    assert describe_changes(doc(), doc(compatibility=None)) == []
