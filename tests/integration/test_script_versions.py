"""Script versions of a universal connector on real SQLite and PostgreSQL, inspected in the
real sandbox: saved, chosen as default, read back for a run, and erased with the connector."""

from __future__ import annotations

import pytest

from domain.connectors.errors import ConnectorNotFoundError
from domain.scripts.versions import (
    ScriptVersionHasErrorsError,
    ScriptVersionNameTakenError,
    ScriptVersionNotFoundError,
    ScriptVersionValidationError,
)
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import connector_body
from tests.integration.test_connectors import ADMIN, OTHER_TENANT, OWNER, s3

SCRIPT = "def collect(ctx):\n    yield ('user', {'id': 'GIRAFFEmark'})\n"


def test_versions_are_inspected_saved_chosen_and_erased(
    registry: Registry, backend: Backend,
) -> None:
    connector = registry.app.create_connector(OWNER, connector_body())
    first = registry.app.save_script_version(OWNER, connector.id, {
        "name": "v1", "description": "first", "script": SCRIPT})
    assert first.messages == ({"text": "the script defines collect(ctx)",
                               "severity": "info", "detail": []},)
    broken = registry.app.save_script_version(OWNER, connector.id, {
        "name": "v2", "script": "def collect(ctx)\n    yield 1\n"})
    assert broken.has_errors
    state = registry.app.script_versions(ADMIN, connector.id)
    assert [v.name for v in state.versions] == ["v1", "v2"]
    assert state.find("default").name == "v1" and state.find("latest").name == "v2"
    with pytest.raises(ScriptVersionHasErrorsError):
        registry.app.set_default_script_version(OWNER, connector.id, "v2")
    with pytest.raises(ScriptVersionNameTakenError):
        registry.app.save_script_version(OWNER, connector.id, {"name": "v1", "script": SCRIPT})
    with pytest.raises(ScriptVersionValidationError) as bad:
        registry.app.save_script_version(OWNER, connector.id,
                                         {"name": "latest", "script": "", "extra": 1})
    assert [v.pointer for v in bad.value.violations] == ["/extra", "/name", "/script"]
    with pytest.raises(ScriptVersionNotFoundError):
        registry.app.set_default_script_version(OWNER, connector.id, "v9")
    with pytest.raises(ConnectorNotFoundError):
        registry.app.script_versions(OTHER_TENANT, connector.id)
    assert registry.app.script_text(connector.id, first.id) == SCRIPT

    registry.app.erase_connector(OWNER, connector.id)
    assert registry.app.script_text(connector.id, first.id) is None
    assert "GIRAFFEmark" not in backend.dump()


def test_only_universal_connectors_have_scripts(registry: Registry) -> None:
    storage = registry.app.create_connector(OWNER, s3())
    with pytest.raises(ScriptVersionValidationError) as refused:
        registry.app.save_script_version(OWNER, storage.id, {"name": "v1", "script": SCRIPT})
    assert "only universal ones do" in str(refused.value)
