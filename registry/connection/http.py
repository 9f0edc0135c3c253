"""HTTP connection tests: one cheap authenticated request per HTTP connector type.

Requests go through httpx with a network backend that asks the address guard for every
connection it opens, so the address checked is the address connected to (TLS still checks
the certificate against the host name). Redirects are not followed: a test answers what the
configured address answered.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import certifi
import httpcore
import httpx

from registry.connection.errors import (
    ConnectionFailedError,
    ConnectionTimeoutError,
    CredentialsRefusedError,
    TargetNotAllowedError,
)
from registry.connection.guard import TargetGuard
from registry.connection.safety import safe_message

DEFAULT_BASES = {
    "github": "https://api.github.com",
    "slack": "https://slack.com/api",
    "notion": "https://api.notion.com",
    "google_drive": "https://www.googleapis.com",
    "salesforce": "https://login.salesforce.com",
}
"""Where each type's API lives when its config names no address."""
SLACK_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                           "token_expired", "missing_scope"})
NOTION_VERSION = "2022-06-28"
SOAP_VERSION = "59.0"


@dataclass(frozen=True)
class Probe:
    """One request that only succeeds with valid credentials."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    content: str | None = None
    slack: bool = False
    """Slack answers 200 with ``{"ok": false}`` for refused tokens."""


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses the guard allows."""

    def __init__(self, guard: TargetGuard) -> None:
        self.guard = guard

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = self.guard.addresses(host, port)
        for address in addresses[:-1]:  # each checked address in turn, as a resolver would
            try:
                return super().connect_tcp(address, port, timeout, local_address,
                                           socket_options)
            except httpcore.ConnectError:
                continue
        return super().connect_tcp(addresses[-1], port, timeout, local_address,
                                   socket_options)


def http_client(guard: TargetGuard, timeout: float, ca_file: str | None) -> httpx.Client:
    """A client that follows no redirect, reads no proxy from the environment, and connects
    through :class:`GuardedBackend`."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    transport = httpx.HTTPTransport(verify=context, retries=0)
    # httpx has no option for the network backend; its pool is rebuilt with the same
    # settings and the guarded backend.
    transport._pool = httpcore.ConnectionPool(ssl_context=context, retries=0,
                                              network_backend=GuardedBackend(guard))
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False,
                        follow_redirects=False)


def check_http(type_name: str, config: Mapping[str, Any], credentials: Mapping[str, Any],
               bases: Mapping[str, str], client: httpx.Client, secrets: list[str]) -> None:
    """Send the type's probe; raise the problem it ends in, return when it worked."""
    try:
        probe = probe_for(type_name, config, credentials, bases, client, secrets)
        judge(client.request(probe.method, probe.url, headers=probe.headers,
                             params=probe.params, auth=probe.auth, content=probe.content),
              probe, secrets)
    except httpx.TimeoutException:
        raise ConnectionTimeoutError("the system did not answer in time") from None
    except httpx.HTTPError as error:
        raise ConnectionFailedError(safe_message(f"{type(error).__name__}: {error}",
                                                 secrets)) from None


def probe_for(type_name: str, config: Mapping[str, Any], credentials: Mapping[str, Any],
              bases: Mapping[str, str], client: httpx.Client, secrets: list[str]) -> Probe:
    """The request that tests a connector of ``type_name``."""
    base = (bases.get(type_name) or DEFAULT_BASES.get(type_name, "")).rstrip("/")
    token = str(credentials.get("accessToken") or credentials.get("token") or "")
    if type_name == "github":
        return Probe("GET", f"{base}/user", _bearer(token)
                     | {"Accept": "application/vnd.github+json"})
    if type_name == "slack":
        return Probe("POST", f"{base}/auth.test", _bearer(str(credentials["botToken"])),
                     slack=True)
    if type_name == "notion":
        return Probe("GET", f"{base}/v1/users/me",
                     _bearer(token) | {"Notion-Version": NOTION_VERSION})
    if type_name == "google_drive":
        return Probe("GET", f"{base}/drive/v3/about", _bearer(token), {"fields": "user"})
    if type_name == "confluence":
        site = str(config["instanceUrl"]).rstrip("/")
        return Probe("GET", f"{site}/wiki/rest/api/space", params={"limit": "1"},
                     auth=(str(credentials["email"]), str(credentials["apiToken"])))
    if type_name == "salesforce":
        return _salesforce(str(config.get("instanceUrl") or base).rstrip("/"), credentials)
    if type_name == "universal":
        return _universal(config, credentials, client, secrets)
    raise ConnectionFailedError(f"connector type {type_name} cannot be tested over HTTP")


def judge(response: httpx.Response, probe: Probe, secrets: list[str]) -> None:
    """Success for a 2xx (and, for Slack, ``"ok": true``); else the problem it means."""
    if response.is_success and not probe.slack:
        return
    if response.is_success:
        body = _json(response)
        if body.get("ok") is True:
            return
        error = str(body.get("error") or "not ok")
        kind = CredentialsRefusedError if error in SLACK_REFUSED else ConnectionFailedError
        raise kind(safe_message(f"Slack answered: {error}", secrets))
    message = safe_message(f"{response.status_code} {response.reason_phrase}"
                           f"{_detail(response)}", secrets)
    if response.status_code in (401, 403) or _salesforce_refused(response, probe):
        raise CredentialsRefusedError(message)
    raise ConnectionFailedError(message)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _salesforce(site: str, credentials: Mapping[str, Any]) -> Probe:
    if credentials.get("authType") != "password":
        return Probe("GET", f"{site}/services/data/",
                     _bearer(str(credentials.get("accessToken", ""))))
    # The SOAP login is the one cheap call that takes a user name and password.
    password = escape(str(credentials["password"]) + str(credentials["securityToken"]))
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><env:Envelope '
        'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com"><env:Body><urn:login>'
        f"<urn:username>{escape(str(credentials['username']))}</urn:username>"
        f"<urn:password>{password}</urn:password></urn:login></env:Body></env:Envelope>")
    return Probe("POST", f"{site}/services/Soap/u/{SOAP_VERSION}",
                 {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
                 content=envelope)


def _salesforce_refused(response: httpx.Response, probe: Probe) -> bool:
    return probe.url.endswith(f"/Soap/u/{SOAP_VERSION}") and "INVALID_LOGIN" in response.text


def _universal(config: Mapping[str, Any], credentials: Mapping[str, Any],
               client: httpx.Client, secrets: list[str]) -> Probe:
    url = str(config["baseUrl"])
    allowed_host(url, config.get("allowedHosts") or ())
    kind = credentials.get("authType")
    if kind == "apiKey":
        name, key = str(credentials.get("headerName", "X-API-Key")), str(credentials["apiKey"])
        if credentials.get("in") == "query":
            return Probe("GET", url, params={name: key})
        return Probe("GET", url, {name: key})
    if kind == "basic":
        return Probe("GET", url, auth=(str(credentials["username"]),
                                       str(credentials["password"])))
    if kind == "bearer":
        return Probe("GET", url, _bearer(str(credentials["token"])))
    if kind == "oauth2":
        token = credentials.get("accessToken") or _client_token(client, credentials, secrets)
        return Probe("GET", url, _bearer(str(token)))
    return Probe("GET", url)


def allowed_host(url: str, allowed: Iterable[str]) -> None:
    """Refuse a URL whose host the connector's ``allowedHosts`` do not list."""
    host = (urlsplit(url).hostname or "").lower()
    for pattern in (p.lower() for p in allowed):
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return
    raise TargetNotAllowedError(f"{host} is not among the connector's allowedHosts")


def _client_token(client: httpx.Client, credentials: Mapping[str, Any],
                  secrets: list[str]) -> str:
    data = {"grant_type": "client_credentials"}
    if credentials.get("scopes"):
        data["scope"] = " ".join(credentials["scopes"])
    response = client.post(str(credentials["tokenUrl"]), data=data,
                           auth=(str(credentials["clientId"]),
                                 str(credentials["clientSecret"])))
    if response.status_code in (400, 401, 403):
        raise CredentialsRefusedError(safe_message(
            f"token endpoint: {response.status_code} {response.reason_phrase}"
            f"{_detail(response)}", secrets))
    judge(response, Probe("POST", str(credentials["tokenUrl"])), secrets)
    token = _json(response).get("access_token")
    if not isinstance(token, str) or not token:
        raise ConnectionFailedError("the token endpoint answered no access_token")
    return token


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    body = _json(response)
    for key in ("message", "error_description", "error", "detail"):
        if isinstance(body.get(key), str):
            return f": {body[key]}"
    text = response.text.strip().splitlines()
    return f": {text[0]}" if text and not body else ""
