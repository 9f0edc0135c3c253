"""The OAuth flow of connector types, through the real app, against a real local provider.

authorize → the user approves (the test requests the authUrl and reads ``code`` from the
redirect) → callback → a connector created with ``?oauth-key=`` → tokens stored → expiry near
→ refreshed by the registry's tick → a reused, stale or foreign key answers 408. The clock is
the registry's own, driven by the test; nothing sleeps.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app
from domain.common import Actor
from domain.connectors.ids import decode_connector_id
from domain.oauth.grant import grant_uuid
from domain.oauth.tokens import code_flow_types
from registry.connectors import Access
from registry.oauth_settings import OAuthClient, OAuthSettings
from registry.service import Registry
from tests.conftest import Backend
from tests.fixtures import Credentials, headers
from tests.support.oauth_provider import (
    ACCESS_LIFETIME,
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    LocalProvider,
)

Client = TestClient[Any]
PATH = "/internal/v1/connectors"
OAUTH = f"{PATH}/oauth"
EDITOR = headers(roles=("editor",), subject="ed", email="ed@example.com")
MARGIN = 30
"""Seconds before expiry the registry refreshes (the provider's tokens live 60)."""
START = datetime(2030, 1, 1, tzinfo=UTC)
OUTSIDE_THE_REGISTRY = ("authlib.oauth2.rfc6749", "werkzeug", "httpx", "httpcore")
"""Loggers of the provider (its server, Werkzeug) and of the test's own HTTP client."""


@dataclasses.dataclass
class Clock:
    """The registry's clock, moved by the test."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclasses.dataclass
class Flow:
    """The app, its registry and clock, and the provider."""

    client: Client
    registry: Registry
    clock: Clock
    provider: LocalProvider
    backend: Backend


@pytest.fixture
def flow(backend: Backend, oauth_provider: LocalProvider) -> Iterator[Flow]:
    clients = {t: OAuthClient(CLIENT_ID, oauth_provider.authorize_url, oauth_provider.token_url,
                              CLIENT_SECRET) for t in code_flow_types() if t != "notion"}
    oauth = OAuthSettings(clients, REDIRECT_URI, timedelta(seconds=MARGIN))
    settings = dataclasses.replace(backend.settings(), oauth=oauth)
    registry = Registry(settings)
    clock = Clock()
    registry.clock = clock
    Credentials.use(registry)
    try:
        with TestClient(create_app(settings, registry=registry),
                        raise_server_exceptions=False) as client:
            yield Flow(client, registry, clock, oauth_provider, backend)
    finally:
        Credentials.use(None)
        registry.close()


def approve(auth_url: str) -> tuple[str, str]:
    """The user approves at the provider: the ``code`` and ``state`` it redirects back with."""
    response = httpx.get(auth_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query["state"][0]


def authorize(flow: Flow, type_name: str = "google_drive", caller: Any = EDITOR) -> str:
    response = flow.client.get(f"{OAUTH}/{type_name}/authorize", headers=caller)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return str(response.json()["authUrl"])


def oauth_key(flow: Flow, type_name: str = "google_drive", caller: Any = EDITOR) -> str:
    code, state = approve(authorize(flow, type_name, caller))
    response = flow.client.post(f"{OAUTH}/{type_name}/callback",
                                json={"code": code, "state": state}, headers=caller)
    assert response.status_code == 200, response.text
    return str(response.json()["oauthKey"])


def drive(name: str = "Team drive") -> dict[str, Any]:
    return {"name": name, "type": "google_drive", "scope": "org",
            "config": {"folderId": "folder-1"}}


def create(flow: Flow, key: str, document: dict[str, Any] | None = None,
           caller: Any = EDITOR) -> httpx.Response:
    return flow.client.post(PATH, params={"oauth-key": key}, json=document or drive(),
                            headers=caller)


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    return str(response.json()["type"]).rsplit("/", 1)[1]


def credentials_of(flow: Flow, connector_id: str) -> dict[str, Any]:
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    access = Access(Actor("ed", "acme"), roles=("editor",))
    _, values = flow.registry.app.connector_credentials(access, uuid)
    assert values is not None
    return values


def history(flow: Flow, connector_id: str) -> list[dict[str, Any]]:
    response = flow.client.get(f"{PATH}/{connector_id}/history", headers=headers())
    assert response.status_code == 200, response.text
    return list(response.json()["history"])


def test_the_whole_flow_stores_tokens_refreshes_them_and_never_shows_them(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    auth_url = authorize(flow)
    query = parse_qs(urlsplit(auth_url).query)
    assert auth_url.startswith(flow.provider.authorize_url)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["https://www.googleapis.com/auth/drive.readonly"]
    code, state = approve(auth_url)
    grant = flow.registry.app.repository.get(grant_uuid(state))
    verifier = grant.state.code_verifier
    assert verifier and verifier not in auth_url

    answered = flow.client.post(f"{OAUTH}/google_drive/callback",
                                json={"code": code, "state": state}, headers=EDITOR)
    assert answered.status_code == 200, answered.text
    key = answered.json()["oauthKey"]
    assert answered.json()["expiresAt"] == "2030-01-01T00:10:00.000000Z"

    created = create(flow, key)
    assert created.status_code == 201, created.text
    body = created.json()
    connector_id = body["id"]
    assert body["credentialsSet"] is True and body["oauthRefreshNeeded"] is False
    assert body["oauthTokenExpiresAt"] == "2030-01-01T00:01:00.000000Z"
    assert set(body["credentialFields"]) == {"accessToken", "refreshToken", "expiresAt",
                                             "tokenType", "scope"}
    first = credentials_of(flow, connector_id)
    assert first["accessToken"] == flow.provider.issued_access_tokens()[-1]

    again = create(flow, key, drive("Another drive"))
    assert again.status_code == 408 and problem_type(again) == "oauth-key-expired"

    flow.registry.tick()  # not due yet: 60 s left, margin 30 s
    assert credentials_of(flow, connector_id) == first
    flow.clock.advance(ACCESS_LIFETIME - MARGIN)
    flow.registry.tick()
    second = credentials_of(flow, connector_id)
    assert second["accessToken"] == flow.provider.issued_access_tokens()[-1]
    assert second["accessToken"] != first["accessToken"]
    assert second["refreshToken"] != first["refreshToken"]
    assert second["expiresAt"] == "2030-01-01T00:01:30.000000Z"
    latest, lease = history(flow, connector_id)[:2]
    assert latest["changedBy"] == lease["changedBy"] == "registry:oauth"
    assert latest["changes"] == ["Changed credentials"]
    assert lease["changes"] == ["OAuth refresh started"]
    shown = flow.client.get(f"{PATH}/{connector_id}", headers=EDITOR).json()
    assert shown["oauthTokenExpiresAt"] == "2030-01-01T00:01:30.000000Z"

    flow.clock.advance(ACCESS_LIFETIME)  # on use, without waiting for a tick
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    after, third = flow.registry.app.fresh_connector_credentials(
        Access(Actor("ed", "acme"), roles=("editor",)), uuid, flow.clock())
    assert third is not None and third["accessToken"] == flow.provider.issued_access_tokens()[-1]
    assert third["accessToken"] != second["accessToken"] and not after.oauth_refresh_needed

    secrets = [code, verifier, CLIENT_SECRET]
    for values in (first, second, third):
        secrets += [values["accessToken"], values["refreshToken"]]
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if not r.name.startswith(OUTSIDE_THE_REGISTRY))
    assert "refreshed the OAuth tokens" in logged
    texts = [logged, flow.backend.dump(), answered.text, created.text,
             str(history(flow, connector_id)), flow.client.get(PATH, headers=EDITOR).text]
    for secret in secrets:
        assert [i for i, text in enumerate(texts) if secret in text] == [], secrets.index(secret)
    assert [i for i, text in enumerate(texts) if key in text] == [2]  # the callback's answer


def test_a_key_or_state_older_than_ten_minutes_answers_408(flow: Flow) -> None:
    key = oauth_key(flow)
    flow.clock.advance(600)
    stale = create(flow, key)
    assert stale.status_code == 408 and problem_type(stale) == "oauth-key-expired"
    code, state = approve(authorize(flow))
    flow.clock.advance(600)
    late = flow.client.post(f"{OAUTH}/google_drive/callback",
                            json={"code": code, "state": state}, headers=EDITOR)
    assert late.status_code == 408 and problem_type(late) == "oauth-key-expired"
    assert flow.client.get(PATH, headers=EDITOR).json()["connectors"] == []


def test_a_refused_refresh_sets_oauth_refresh_needed_until_a_new_key(
    flow: Flow, oauth_provider: LocalProvider
) -> None:
    created = create(flow, oauth_key(flow))
    connector_id = created.json()["id"]
    oauth_provider.revoke_refresh_tokens()
    flow.clock.advance(ACCESS_LIFETIME)
    flow.registry.tick()
    shown = flow.client.get(f"{PATH}/{connector_id}", headers=EDITOR).json()
    assert shown["oauthRefreshNeeded"] is True
    assert shown["lastError"] == "the provider refused the refresh: invalid_grant"
    assert history(flow, connector_id)[0]["changes"] == [
        "OAuth refresh failed: the provider refused the refresh: invalid_grant"]
    assert history(flow, connector_id)[1]["changes"] == ["OAuth refresh started"]
    flow.registry.tick()  # flagged: no retry, no second event
    assert len(history(flow, connector_id)) == 3

    renewed = flow.client.patch(f"{PATH}/{connector_id}",
                                params={"oauth-key": oauth_key(flow)}, json={},
                                headers=EDITOR)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["oauthRefreshNeeded"] is False
    assert credentials_of(flow, connector_id)["accessToken"] == (
        flow.provider.issued_access_tokens()[-1])


def test_one_refresh_at_a_time_holds_a_lease(flow: Flow) -> None:
    connector_id = create(flow, oauth_key(flow)).json()["id"]
    uuid = decode_connector_id(connector_id)
    assert uuid is not None
    access = Access(Actor("registry:oauth", "acme"), roles=("admin",))
    other = flow.registry.app.connector(access, uuid)  # another process took the lease
    flow.clock.advance(ACCESS_LIFETIME - MARGIN)
    other.start_oauth_refresh(access.actor, flow.clock(), timedelta(seconds=60))
    flow.registry.app.save(other)
    issued = len(flow.provider.issued_access_tokens())
    flow.registry.tick()
    _, values = flow.registry.app.fresh_connector_credentials(
        Access(Actor("ed", "acme"), roles=("editor",)), uuid, flow.clock())
    assert len(flow.provider.issued_access_tokens()) == issued  # nobody asked the provider
    assert values == credentials_of(flow, connector_id)
    flow.clock.advance(60)  # the lease ran out (that process died): the next tick refreshes
    flow.registry.tick()
    assert len(flow.provider.issued_access_tokens()) == issued + 1
    assert history(flow, connector_id)[0]["changes"] == ["Changed credentials"]
    due = flow.registry.connectors.oauth_due(flow.clock() + timedelta(days=1))
    assert due == [("acme", uuid)]
    live = rows(flow)
    flow.registry.rebuild()  # the refresh index is a read model like any other
    assert rows(flow) == live


def rows(flow: Flow) -> list[Any]:
    with flow.registry.db.read() as cur:
        return cur.all("SELECT * FROM registry_connectors ORDER BY uuid")


def test_another_tenants_key_or_state_answers_408_and_leaves_the_grant(flow: Flow) -> None:
    intruder = headers(tenant="globex", roles=("editor",), subject="mallory")
    key = oauth_key(flow)
    foreign = create(flow, key, caller=intruder)
    assert foreign.status_code == 408 and problem_type(foreign) == "oauth-key-expired"
    code, state = approve(authorize(flow))
    theirs = flow.client.post(f"{OAUTH}/google_drive/callback",
                              json={"code": code, "state": state}, headers=intruder)
    unknown = flow.client.post(f"{OAUTH}/google_drive/callback",
                               json={"code": code, "state": "no-such-state"}, headers=intruder)
    assert theirs.status_code == unknown.status_code == 408
    assert theirs.json()["detail"] == unknown.json()["detail"]
    assert create(flow, key).status_code == 201  # the owner's key still works


def test_keys_are_bound_to_their_type_and_refused_with_inline_credentials(flow: Flow) -> None:
    key = oauth_key(flow)
    salesforce = {"name": "CRM", "type": "salesforce", "config": {"objects": ["Account"]}}
    wrong_type = create(flow, key, salesforce)
    assert wrong_type.status_code == 408
    inline = create(flow, key, drive() | {"credentials": {"accessToken": "inline"}})
    assert inline.status_code == 422 and problem_type(inline) == "validation-failed"
    malformed = create(flow, "not-a-key")
    assert malformed.status_code == 408
    too_long = create(flow, "k" * 201)
    assert too_long.status_code == 422 and problem_type(too_long) == "invalid-parameter"
    bad_body = create(flow, key, drive() | {"scope": "everyone"})
    assert bad_body.status_code == 422  # the document's own error first, the key untouched
    assert create(flow, key).status_code == 201

    sf_key = oauth_key(flow, "salesforce")
    made = create(flow, sf_key, salesforce)
    assert made.status_code == 201, made.text
    assert made.json()["authType"] == "oauth2"


def test_types_without_a_flow_or_a_client_and_bad_callbacks_are_refused(flow: Flow) -> None:
    s3 = flow.client.get(f"{OAUTH}/s3/authorize", headers=EDITOR)
    assert s3.status_code == 404 and problem_type(s3) == "oauth-type-not-found"
    universal = flow.client.get(f"{OAUTH}/universal/authorize", headers=EDITOR)
    assert universal.status_code == 404
    notion = flow.client.get(f"{OAUTH}/notion/authorize", headers=EDITOR)
    assert notion.status_code == 409 and problem_type(notion) == "oauth-not-configured"
    collector = flow.client.get(f"{OAUTH}/google_drive/authorize",
                                headers=headers(roles=("collector",)))
    assert collector.status_code == 403
    bodies: list[Any] = [{}, {"code": "c"}, {"code": "c", "state": "s", "x": 1}, [],
                         {"code": "a b", "state": "s"}, {"code": "c", "state": "s" * 300}]
    for body in bodies:
        bad = flow.client.post(f"{OAUTH}/google_drive/callback", json=body, headers=EDITOR)
        assert bad.status_code == 422, (body, bad.text)
    _, state = approve(authorize(flow))
    refused = flow.client.post(f"{OAUTH}/google_drive/callback",
                               json={"code": "forged-code", "state": state}, headers=EDITOR)
    assert refused.status_code == 502 and problem_type(refused) == "oauth-exchange-failed"
    assert "forged-code" not in refused.text


def test_the_provider_really_checks_the_pkce_verifier(oauth_provider: LocalProvider) -> None:
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(64)
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI,
             "scope": "read", "state": "s1", "code_challenge": create_s256_code_challenge(verifier),
             "code_challenge_method": "S256"}
    code, _ = approve(str(httpx.URL(oauth_provider.authorize_url, params=query)))
    token = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
             "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    wrong = httpx.post(oauth_provider.token_url, data=token | {"code_verifier": "x" * 64})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = httpx.post(oauth_provider.token_url, data=token)
    assert missing.status_code == 400
    right = httpx.post(oauth_provider.token_url, data=token | {"code_verifier": verifier})
    assert right.status_code == 200 and right.json()["refresh_token"]


def test_grants_left_unclaimed_lapse_and_their_keys_go(flow: Flow) -> None:
    from domain.oauth.grant import grant_uuid

    claimed = oauth_key(flow)
    assert create(flow, claimed).status_code == 201
    unclaimed = oauth_key(flow)  # tokens exchanged, never claimed
    code, state = approve(authorize(flow))  # a flow whose code never came back
    apps = flow.registry.app
    assert apps.oauth_grants.pending() == 2  # the claimed one is not pending
    flow.clock.advance(599)
    flow.registry.tick()
    assert apps.oauth_grants.pending() == 2
    flow.clock.advance(1)
    flow.registry.tick()
    assert apps.oauth_grants.pending() == 0
    grant = apps.repository.get(grant_uuid(state))
    assert grant.state.claimed and grant.state.code_verifier is None  # its key is gone
    late = create(flow, unclaimed)
    assert late.status_code == 408 and problem_type(late) == "oauth-key-expired"
    callback = flow.client.post(f"{OAUTH}/google_drive/callback",
                                json={"code": code, "state": state}, headers=EDITOR)
    assert callback.status_code == 408
    pending = apps.oauth_grants.pending()
    flow.registry.rebuild()
    assert apps.oauth_grants.pending() == pending == 0
