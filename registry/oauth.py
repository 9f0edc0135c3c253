"""OAuth commands of the application: start a flow, exchange its code, claim its tokens for a
connector, and keep those tokens fresh.

The provider is reached through Authlib's OAuth 2.0 client (authorization code with PKCE
S256, refresh token grant); every rule about a grant (its tenant, type, ten minutes, one use)
is decided by the :class:`~domain.oauth.grant.OAuthGrant` aggregate. Time is always passed in
(``now``), so the tests drive the clock. No token, code, verifier or client secret is ever
logged or put into an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from eventsourcing.application import AggregateNotFoundError

from domain.common import Actor
from domain.connectors.catalogue import get_type, validate_credentials
from domain.connectors.errors import ConnectorRefreshBusyError, ConnectorValidationError
from domain.connectors.state import ConnectorState
from domain.errors import ConcurrentWriteError, RegistryError, StaleVersionError, Violation
from domain.oauth.errors import (
    OAUTH_KEY_EXPIRED,
    OAuthExchangeError,
    OAuthKeyExpiredError,
    OAuthNotConfiguredError,
    OAuthTypeError,
)
from domain.oauth.grant import OAuthGrant, grant_uuid, key_grant
from domain.oauth.tokens import credentials_from_token, due_for_refresh, has_code_flow, refreshed
from registry.connectors import Access
from registry.oauth_settings import OAuthClient, OAuthSettings
from registry.persistence import DESTROY_KEYS

if TYPE_CHECKING:
    from projections.connectors import ConnectorQueries
    from projections.oauth import OAuthGrantQueries

log = logging.getLogger("registry.oauth")
OAUTH_ACTOR = "registry:oauth"
"""The subject history shows for tokens the registry refreshed by itself."""
TIMEOUT_SECONDS = 10.0
REFRESH_LEASE = timedelta(seconds=60)
"""How long a refresh holds off other processes' refreshes of the same connector."""


class RefreshRefusedError(Exception):
    """The tokens cannot be refreshed without a user: the message says why (no secret)."""


class OAuthCommands:
    """OAuth commands; mixed into the application, whose repository and save they use."""

    if TYPE_CHECKING:  # provided by the application this is mixed into
        repository: Any
        oauth: OAuthSettings
        connector_queries: ConnectorQueries
        oauth_grants: OAuthGrantQueries

        def _save(self, *aggregates: Any, **kwargs: Any) -> None: ...

        def connector(self, access: Access, uuid: UUID) -> Any: ...

        def connector_credentials(
            self, access: Access, uuid: UUID) -> tuple[ConnectorState, dict[str, Any] | None]: ...

        def rotate_connector_credentials(
            self, access: Access, uuid: UUID, credentials: Any,
            if_match: Any = None) -> ConnectorState: ...

    def start_oauth(self, access: Access, type_name: str, now: datetime) -> str:
        """Start a flow for a type: answers the provider's authorization URL (with ``state``
        and a PKCE S256 challenge); the grant waits ten minutes for its code."""
        client = self._oauth_client(type_name)
        verifier = generate_token(64)
        with self._session(type_name, client) as session:
            url, state = session.create_authorization_url(
                client.authorize_url, state=generate_token(43), code_verifier=verifier)
        self._save(OAuthGrant.start(access.actor, type_name, state, verifier, now))
        return str(url)

    def complete_oauth(self, access: Access, type_name: str, code: str, state: str,
                       now: datetime) -> tuple[str, datetime]:
        """Exchange the code of a started flow at the provider: answers the one-time
        ``oauthKey`` that a connector create or update claims the tokens with, and until when."""
        client = self._oauth_client(type_name)
        grant = self._grant(grant_uuid(state))
        verifier = grant.verifier(access.actor.tenant, type_name, now)
        with self._session(type_name, client) as session:
            try:
                token = session.fetch_token(client.token_url, code=code,
                                            code_verifier=verifier, timeout=TIMEOUT_SECONDS)
            except OAuthError as error:
                raise OAuthExchangeError(f"the provider refused the code: {error.error}") from None
            except (requests.RequestException, ValueError):
                raise OAuthExchangeError("the provider's token endpoint did not answer with "
                                         "tokens") from None
        credentials = _usable(type_name, token, now)
        key = grant.exchange(access.actor.tenant, type_name, credentials, now)
        try:
            self._save(grant)
        except ConcurrentWriteError:  # the same state was completed at the same time
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED) from None
        assert grant.state.expires_at is not None
        return key, grant.state.expires_at

    def lapse_oauth_grants(self, now: datetime) -> list[UUID]:
        """Lapse every pending grant whose ten minutes are up at ``now``, destroying its
        data key (its verifier and any unclaimed tokens) in the same save; answers them. One
        claimed meanwhile is left alone."""
        lapsed = []
        for uuid in self.oauth_grants.lapsing(now):
            try:
                grant = self._grant(uuid)
                if grant.lapse(now):
                    self._save(grant, **{DESTROY_KEYS: [grant.id]})
                    lapsed.append(uuid)
            except (ConcurrentWriteError, OAuthKeyExpiredError):
                continue  # claimed (or lapsed by another process) meanwhile
        if lapsed:
            log.info("lapsed %d unclaimed OAuth grant(s)", len(lapsed))
        return lapsed

    def fresh_connector_credentials(
        self, access: Access, uuid: UUID, now: datetime,
    ) -> tuple[ConnectorState, dict[str, Any] | None]:
        """As :meth:`connector_credentials`, but OAuth tokens that expire within the refresh
        margin are refreshed first (``Changed credentials`` by ``registry:oauth``). When they
        cannot be (no refresh token, the provider refuses), ``oauthRefreshNeeded`` turns true
        and the old credentials are answered."""
        state, credentials = self.connector_credentials(access, uuid)
        if state.oauth_refresh_needed or not due_for_refresh(
                credentials, now, self.oauth.refresh_margin):
            return state, credentials
        assert credentials is not None
        try:
            return self._refresh(state, credentials, now)
        except (StaleVersionError, ConcurrentWriteError, ConnectorRefreshBusyError):
            return self.connector_credentials(access, uuid)  # another refresh won: read it

    def refresh_oauth_tokens(self, now: datetime) -> list[UUID]:
        """Refresh every connector's OAuth tokens due within the margin (the follower's
        tick); answers the connectors refreshed. One that fails is skipped until its turn
        comes again, or flagged ``oauthRefreshNeeded`` when a user must act."""
        done = []
        for tenant, uuid in self.connector_queries.oauth_due(now + self.oauth.refresh_margin):
            system = _system(tenant)
            try:
                state, credentials = self.connector_credentials(system, uuid)
                if state.oauth_refresh_needed or not due_for_refresh(
                        credentials, now, self.oauth.refresh_margin):
                    continue
                assert credentials is not None
                after, _ = self._refresh(state, credentials, now)
            except RegistryError:  # changed meanwhile, deleted, or a racing refresh won
                continue
            if not after.oauth_refresh_needed:
                done.append(uuid)
        if done:
            log.info("refreshed the OAuth tokens of %d connector(s)", len(done))
        return done

    def _oauth_document(
        self, access: Access, document: Any, oauth_key: str | None, type_name: Any,
        connector: UUID, now: datetime | None, check: Callable[[Any], object],
    ) -> tuple[list[OAuthGrant], Any]:
        """The connector document with the tokens of the grant ``oauth_key`` names as its
        credentials, and that grant (claimed: the caller saves it with the connector and
        destroys its data key). Without a key, the document as it is.

        ``check`` runs the command on the document without credentials first, so a document
        the command refuses answers its 422, never the key's 408."""
        if oauth_key is None:
            return [], document
        if isinstance(document, Mapping) and "credentials" in document:
            raise ConnectorValidationError(
                [Violation("/credentials", "cannot be sent together with oauth-key")])
        check(document)
        if not isinstance(type_name, str):
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED)
        grant, credentials = self._claim_grant(access, oauth_key, type_name, connector,
                                               now or datetime.now(UTC))
        return [grant], {**document, "credentials": credentials}

    def _grant_claimed(self, grants: list[OAuthGrant]) -> bool:
        """True when one of these grants was claimed by another save meanwhile."""
        for grant in grants:
            try:
                if self._grant(grant.id).state.claimed:
                    return True
            except OAuthKeyExpiredError:
                return True
        return False

    def _claim_grant(self, access: Access, key: str, type_name: str, connector: UUID,
                     now: datetime) -> tuple[OAuthGrant, dict[str, Any]]:
        """The grant an ``oauthKey`` names, claimed for a connector of ``type_name``, and
        its tokens as credentials; the caller saves the grant with the connector."""
        uuid = key_grant(key)
        if uuid is None:
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED)
        grant = self._grant(uuid)
        return grant, grant.claim(access.actor, type_name, key, connector, now)

    def _refresh(self, state: ConnectorState, credentials: dict[str, Any],
                 now: datetime) -> tuple[ConnectorState, dict[str, Any]]:
        """Refresh under a lease: ``OAuthRefreshStarted`` is saved first, so of two processes
        only one asks the provider (a provider that rotates refresh tokens would refuse the
        second), and the new tokens are saved only onto the version that lease made."""
        system = _system(state.tenant)
        assert state.type is not None
        connector = self.connector(system, state.id)
        connector.start_oauth_refresh(system.actor, now, REFRESH_LEASE)
        self._save(connector)
        leased = connector.state
        try:
            token = self._refresh_token(state.type, credentials)
        except RefreshRefusedError as error:
            return self._refresh_failed(leased, credentials, str(error))
        except (requests.RequestException, ValueError):
            log.warning("OAuth refresh of connector %s: the provider did not answer; will "
                        "retry", state.connector_id)
            return leased, credentials
        new = refreshed(state.type, credentials, token, now)
        if validate_credentials(state.type, new, base=""):
            return self._refresh_failed(
                leased, credentials, "the provider's answer does not fit the credentials")
        after = self.rotate_connector_credentials(system, state.id, new, [leased.revision])
        return after, new

    def _refresh_failed(self, leased: ConnectorState, credentials: dict[str, Any],
                        error: str) -> tuple[ConnectorState, dict[str, Any]]:
        system = _system(leased.tenant)
        connector = self.connector(system, leased.id)
        _check_lease(connector.state, leased)
        connector.record_oauth_refresh_failure(system.actor, error)
        self._save(connector)
        log.warning("OAuth refresh of connector %s failed: %s", leased.connector_id, error)
        return connector.state, credentials

    def _refresh_token(self, type_name: str, credentials: dict[str, Any]) -> dict[str, Any]:
        client = self.oauth.clients.get(type_name)
        if client is None:
            raise RefreshRefusedError(f"no OAuth client is configured for type {type_name}")
        refresh_token = credentials.get("refreshToken")
        if not refresh_token:
            raise RefreshRefusedError("the provider gave no refresh token")
        with self._session(type_name, client) as session:
            try:
                return dict(session.refresh_token(client.token_url, refresh_token=refresh_token,
                                                  timeout=TIMEOUT_SECONDS))
            except OAuthError as error:
                raise RefreshRefusedError(
                    f"the provider refused the refresh: {error.error}") from None

    def _oauth_client(self, type_name: str) -> OAuthClient:
        if not has_code_flow(type_name):
            raise OAuthTypeError(f"connector type '{type_name}' has no OAuth flow")
        client = self.oauth.clients.get(type_name)
        if client is None:
            raise OAuthNotConfiguredError(
                f"no OAuth client is configured for connector type '{type_name}' (set "
                f"REGISTRY_OAUTH_{type_name.upper()}_CLIENT_ID and its URLs)")
        return client

    def _session(self, type_name: str, client: OAuthClient) -> OAuth2Session:
        entry = get_type(type_name)
        assert entry is not None
        session = OAuth2Session(
            client_id=client.client_id, client_secret=client.client_secret or None,
            token_endpoint_auth_method=("client_secret_post" if client.client_secret
                                        else "none"),
            scope=" ".join(entry.oauth_scopes) or None, redirect_uri=self.oauth.redirect_uri,
            code_challenge_method="S256",
        )
        session.trust_env = False  # the provider is reached directly, never via a proxy env
        return session

    def _grant(self, uuid: UUID) -> OAuthGrant:
        try:
            grant = self.repository.get(uuid)
        except AggregateNotFoundError:
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED) from None
        if not isinstance(grant, OAuthGrant):
            raise OAuthKeyExpiredError(OAUTH_KEY_EXPIRED)
        return grant


def _check_lease(now: ConnectorState, leased: ConnectorState) -> None:
    if now.revision != leased.revision:  # changed since the lease: not this refresh's to judge
        raise StaleVersionError(now.revision)


def _system(tenant: str) -> Access:
    return Access(Actor(OAUTH_ACTOR, tenant), roles=("admin",))


def _usable(type_name: str, token: Any, now: datetime) -> dict[str, Any]:
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
        raise OAuthExchangeError("the provider's answer holds no access token")
    credentials = credentials_from_token(type_name, token, now)
    if validate_credentials(type_name, credentials, base=""):
        raise OAuthExchangeError("the provider's tokens do not fit the type's credentials")
    return credentials
