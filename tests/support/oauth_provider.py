"""A real local OAuth 2.0 authorization server for the tests: Authlib's server on Flask,
served by Werkzeug in a thread on 127.0.0.1.

It supports the authorization code grant with PKCE (S256 required) and the refresh token
grant, approves every authorization request at once (the test plays the user by requesting
the authUrl and reading ``code`` from the redirect), and issues short-lived access tokens
with a fresh refresh token on every refresh. :meth:`LocalProvider.revoke_refresh_tokens`
makes it refuse refreshes, as a provider does after a user revoked the app.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, request
from werkzeug.serving import make_server

CLIENT_ID = "registry-test-client"
CLIENT_SECRET = "provider-client-secret-" + "x" * 16
REDIRECT_URI = "http://127.0.0.1:9/oauth/return"
ACCESS_LIFETIME = 60
"""Seconds an access token lives: short, so a refresh is due within the default margin."""


@dataclass
class Client:
    """The registry, as the provider knows it."""

    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uri: str = REDIRECT_URI

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_post" if endpoint == "token" else True

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    """An issued authorization code, with the PKCE challenge it was asked with."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    """An issued token pair."""

    access_token: str
    refresh_token: str | None
    scope: str
    client_id: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return False  # a refresh token lives until it is used or revoked

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return "user-1"

    def get_client(self) -> Client:
        return Client()


@dataclass
class Store:
    """Everything the provider issued."""

    codes: dict[str, Code] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]  # noqa: RUF012 - Authlib's API
    store: Store

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.store.codes[code] = Code(code, CLIENT_ID, data.get("redirect_uri", ""),
                                      data.get("scope", ""), data.get("code_challenge", ""),
                                      data.get("code_challenge_method", ""))

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.store.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: Code) -> str:
        return "user-1"


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]  # noqa: RUF012 - Authlib's API
    INCLUDE_NEW_REFRESH_TOKEN = True
    store: Store

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        with self.store.lock:
            return next((t for t in self.store.tokens if t.refresh_token == refresh_token
                         and not t.revoked), None)

    def authenticate_user(self, refresh_token: Token) -> str:
        return "user-1"

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.revoked = True


class LocalProvider:
    """The provider's app and what it issued; :meth:`serve` runs it on 127.0.0.1."""

    def __init__(self) -> None:
        self.store = Store()
        self.url = ""
        self.app = self._app()

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def issued_access_tokens(self) -> list[str]:
        """Every access token issued so far, oldest first."""
        with self.store.lock:
            return [t.access_token for t in self.store.tokens]

    def revoke_refresh_tokens(self) -> None:
        """Refuse every refresh from now on (``invalid_grant``), as after a user revoked."""
        with self.store.lock:
            for token in self.store.tokens:
                token.revoked = True

    def _app(self) -> Flask:
        app = Flask("local-oauth-provider")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": ACCESS_LIFETIME,
                                                 "refresh_token": ACCESS_LIFETIME}
        server = AuthorizationServer(app, query_client=self._client, save_token=self._save)
        CodeGrant.store = self.store
        RefreshGrant.store = self.store
        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)

        @app.get("/authorize")
        def authorize() -> Any:  # the user approves at once
            try:
                grant = server.get_consent_grant(end_user="user-1")
            except OAuth2Error as error:
                return server.handle_error_response(request, error)
            return server.create_authorization_response(grant_user="user-1", grant=grant)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()

        return app

    def _client(self, client_id: str) -> Client | None:
        return Client() if client_id == CLIENT_ID else None

    def _save(self, token: dict[str, Any], request: Any) -> None:
        with self.store.lock:
            self.store.tokens.append(Token(
                token["access_token"], token.get("refresh_token"), token.get("scope", ""),
                CLIENT_ID, time.time(), int(token.get("expires_in", 0))))

    @contextmanager
    def serve(self) -> Iterator[LocalProvider]:
        """Serve on a free port of 127.0.0.1 until the block ends."""
        server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{server.server_port}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            thread.join(timeout=10)
