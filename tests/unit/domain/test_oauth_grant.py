"""The OAuth grant aggregate and the token rules: events recorded, 408 for every misuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.common import Actor
from domain.oauth.errors import OAuthKeyExpiredError
from domain.oauth.grant import Claimed, Exchanged, OAuthGrant, Started, grant_uuid, key_grant
from domain.oauth.tokens import (
    code_flow_types,
    credentials_from_token,
    due_for_refresh,
    has_code_flow,
    refreshed,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ED = Actor("ed", "acme")
TOKEN = {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 60,
         "token_type": "Bearer", "scope": "read"}


def exchanged() -> tuple[OAuthGrant, str]:
    grant = OAuthGrant.start(ED, "google_drive", "state-1", "verifier-1", NOW)
    credentials = credentials_from_token("google_drive", TOKEN, NOW)
    return grant, grant.exchange("acme", "google_drive", credentials, NOW)


def test_a_grant_is_found_by_its_state_and_its_key_names_it() -> None:
    grant, key = exchanged()
    assert grant.id == grant_uuid("state-1") != grant_uuid("state-2")
    assert key_grant(key) == grant.id and key_grant("oak_x") is None
    events = grant.collect_events()
    assert [type(e) for e in events] == [Started, Exchanged]
    assert events[0].code_verifier == "verifier-1"  # type: ignore[attr-defined]
    assert key not in repr(events[1]) and grant.state.code_verifier is None


def test_a_claim_hands_the_tokens_over_once() -> None:
    grant, key = exchanged()
    connector = uuid4()
    credentials = grant.claim(ED, "google_drive", key, connector, NOW + timedelta(minutes=9))
    assert credentials["accessToken"] == "at-1"
    assert credentials["expiresAt"] == "2030-01-01T00:01:00.000000Z"
    assert isinstance(grant.collect_events()[-1], Claimed)
    assert grant.state.claimed and grant.state.credentials is None
    with pytest.raises(OAuthKeyExpiredError):
        grant.claim(ED, "google_drive", key, connector, NOW)


@pytest.mark.parametrize(("actor", "type_name", "wrong_key", "minutes"), [
    (Actor("mallory", "globex"), "google_drive", False, 0),
    (ED, "notion", False, 0),
    (ED, "google_drive", True, 0),
    (ED, "google_drive", False, 10),
])
def test_another_tenant_type_key_or_a_stale_grant_is_408(
    actor: Actor, type_name: str, wrong_key: bool, minutes: int
) -> None:
    grant, key = exchanged()
    with pytest.raises(OAuthKeyExpiredError):
        grant.claim(actor, type_name, key + "x" if wrong_key else key, uuid4(),
                    NOW + timedelta(minutes=minutes))
    assert not grant.state.claimed


def test_a_grant_is_exchanged_once_and_within_ten_minutes() -> None:
    grant, _ = exchanged()
    with pytest.raises(OAuthKeyExpiredError):
        grant.exchange("acme", "google_drive", {}, NOW)
    late = OAuthGrant.start(ED, "google_drive", "state-2", "v", NOW)
    with pytest.raises(OAuthKeyExpiredError):
        late.verifier("acme", "google_drive", NOW + timedelta(minutes=10))


def test_token_rules() -> None:
    assert code_flow_types() == ("google_drive", "notion", "salesforce")
    assert not has_code_flow("universal") and not has_code_flow("s3")
    assert credentials_from_token("salesforce", TOKEN, NOW)["authType"] == "oauth2"
    kept = refreshed("google_drive", {"refreshToken": "rt-1"}, {"access_token": "at-2"}, NOW)
    assert kept == {"accessToken": "at-2", "refreshToken": "rt-1"}
    credentials = credentials_from_token("google_drive", TOKEN, NOW)
    assert not due_for_refresh(credentials, NOW, timedelta(seconds=59))
    assert due_for_refresh(credentials, NOW, timedelta(seconds=60))
    assert not due_for_refresh(kept, NOW, timedelta(days=1))  # no expiry known


def test_a_connector_refresh_lease_refuses_a_second_refresh_until_it_ends() -> None:
    from domain.connectors.connector import Connector
    from domain.connectors.errors import ConnectorRefreshBusyError

    connector = Connector.create(ED, uuid4(), {
        "name": "Drive", "type": "google_drive", "config": {},
        "credentials": credentials_from_token("google_drive", TOKEN, NOW)})
    assert connector.state.oauth_token_expires_at == NOW + timedelta(seconds=60)
    connector.start_oauth_refresh(ED, NOW, timedelta(seconds=60))
    with pytest.raises(ConnectorRefreshBusyError):
        connector.start_oauth_refresh(ED, NOW + timedelta(seconds=59), timedelta(seconds=60))
    connector.start_oauth_refresh(ED, NOW + timedelta(seconds=60), timedelta(seconds=60))
    connector.record_oauth_refresh_failure(ED, "the provider refused the refresh: x")
    assert connector.state.oauth_refresh_needed and connector.state.oauth_refresh_until is None
    connector.replace_credentials(ED, credentials_from_token("google_drive", TOKEN, NOW))
    assert not connector.state.oauth_refresh_needed
