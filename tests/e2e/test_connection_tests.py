"""Connection tests through the real app, against real servers on this machine.

HTTP types reach a local HTTPS server (pytest-httpserver with a throwaway CA), ``s3`` reaches
moto's S3 in server mode with its auth switched on, ``postgresql`` reaches the session's
throwaway PostgreSQL as a role that must give its password, and a socket that accepts and
never answers stands in for a system that hangs. Only the address guard is loosened
(``allow_private_targets``), except in the tests of the guard itself.
"""

from __future__ import annotations

import base64
import dataclasses
import ssl
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from moto.server import ThreadedMotoServer
from pytest_httpserver import HTTPServer

from api.app import create_app
from registry.service import Registry
from registry.settings import ConnectionSettings
from tests.conftest import Backend
from tests.fixtures import headers
from tests.support.postgres import PostgresServer
from tests.support.remote import (
    BUCKET,
    REGION,
    PasswordRole,
    S3Server,
    TlsFiles,
    closed_port,
    password_role,
    silent_server,
    tls_files,
)

Client = TestClient[Any]
TOKEN = "tok-0123456789-secret-value"
TIMEOUT = 0.5
NO_DATABASE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For tests of unsaved config: they read and write no database, so one backend is enough."""


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https(tls: TlsFiles) -> Iterator[HTTPServer]:
    """One HTTPS server for the module; each test sets what it answers."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server = HTTPServer(host="127.0.0.1", ssl_context=context, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def remote(https: HTTPServer) -> Iterator[HTTPServer]:
    https.clear()
    yield https
    https.clear()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    store = S3Server.set_up(f"http://{host}:{port}")
    yield store
    store.tear_down()
    server.stop()


@pytest.fixture(scope="module")
def pg_role(postgres_server: PostgresServer) -> PasswordRole:
    return password_role(postgres_server)


@pytest.fixture
def settings(tls: TlsFiles, https: HTTPServer) -> ConnectionSettings:
    base = f"https://localhost:{https.port}"
    return ConnectionSettings(timeout_seconds=TIMEOUT, allow_private_targets=True,
                              ca_file=tls.ca_file,
                              api_bases={"slack": f"{base}/api", "github": base,
                                         "notion": base, "google_drive": base})


@pytest.fixture
def tester_client(backend: Backend, registry: Registry,
                  settings: ConnectionSettings) -> Iterator[Client]:
    """The real app over the test's registry, with the connection settings above."""
    app = create_app(dataclasses.replace(backend.settings(), connections=settings),
                     registry=registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def universal(port: int, path: str = "/v1/ping", **credentials: Any) -> dict[str, Any]:
    return {"config": {"baseUrl": f"https://localhost:{port}{path}",
                       "allowedHosts": ["localhost"]},
            "credentials": credentials or {"authType": "bearer", "token": TOKEN}}


def unsaved_test(client: Client, body: Any, type_name: str = "universal") -> Any:
    return client.post(f"/internal/v1/connector-types/{type_name}/test", json=body,
                       headers=headers(roles=("editor",), subject="editor-1"))


# HTTP types ------------------------------------------------------------------------------------

@NO_DATABASE
def test_a_working_http_api_answers_200_and_was_really_called(
    tester_client: Client, remote: HTTPServer
) -> None:
    remote.expect_request("/v1/ping", headers={"Authorization": f"Bearer {TOKEN}"}
                          ).respond_with_json({"pong": True})
    response = unsaved_test(tester_client, universal(remote.port))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and isinstance(body["latencyMs"], int)
    assert body["checkedAt"].endswith("Z")
    remote.check_assertions()
    assert len(remote.log) == 1


@NO_DATABASE
def test_refused_credentials_answer_403_without_echoing_them(
    tester_client: Client, remote: HTTPServer
) -> None:
    remote.expect_request("/v1/ping").respond_with_json(
        {"message": f"Bad credentials: {TOKEN}"}, status=401)
    response = unsaved_test(tester_client, universal(remote.port))
    assert response.status_code == 403, response.text
    problem = response.json()
    assert problem["type"].endswith("/credentials-refused")
    assert "401" in problem["detail"] and "Bad credentials" in problem["detail"]
    assert TOKEN not in response.text


@NO_DATABASE
def test_a_failing_system_answers_502_with_its_own_message(
    tester_client: Client, remote: HTTPServer
) -> None:
    remote.expect_request("/v1/ping").respond_with_json({"message": "database on fire"},
                                                       status=503)
    response = unsaved_test(tester_client, universal(remote.port))
    assert response.status_code == 502, response.text
    assert response.json()["type"].endswith("/connection-failed")
    assert "database on fire" in response.json()["detail"]


@NO_DATABASE
def test_a_refused_connection_answers_502(tester_client: Client) -> None:
    response = unsaved_test(tester_client, universal(closed_port()))
    assert response.status_code == 502, response.text
    assert response.json()["type"].endswith("/connection-failed")


@NO_DATABASE
def test_a_system_that_never_answers_is_408_within_the_timeout(tester_client: Client) -> None:
    with silent_server() as port:
        started = time.monotonic()
        response = unsaved_test(tester_client, universal(port))
        elapsed = time.monotonic() - started
    assert response.status_code == 408, response.text
    assert response.json()["type"].endswith("/connection-timeout")
    assert elapsed < TIMEOUT + 2


@NO_DATABASE
def test_fixed_host_types_use_their_api_base_setting(
    tester_client: Client, remote: HTTPServer
) -> None:
    remote.expect_request("/api/auth.test", method="POST").respond_with_json(
        {"ok": False, "error": "invalid_auth"})
    remote.expect_request("/user").respond_with_json({"login": "octocat"})
    slack = unsaved_test(tester_client, {"config": {"channels": ["#general"]},
                                         "credentials": {"botToken": "xoxb-1234-abcd"}},
                         "slack")
    assert slack.status_code == 403, slack.text
    assert "invalid_auth" in slack.json()["detail"]
    github = unsaved_test(tester_client, {"config": {"repos": ["octo/repo"]},
                                          "credentials": {"token": TOKEN}}, "github")
    assert github.status_code == 200, github.text


BASIC = "Basic " + base64.b64encode(f"me@example.com:{TOKEN}".encode()).decode()
TYPES: dict[str, tuple[str, str, dict[str, str], dict[str, Any], dict[str, Any]]] = {
    # type: (method, path, headers the request must carry, config, credentials)
    "github": ("GET", "/user", {"Authorization": f"Bearer {TOKEN}"}, {"repos": ["o/r"]},
               {"token": TOKEN}),
    "notion": ("GET", "/v1/users/me", {"Authorization": f"Bearer {TOKEN}",
                                       "Notion-Version": "2022-06-28"}, {},
               {"accessToken": TOKEN}),
    "google_drive": ("GET", "/drive/v3/about", {"Authorization": f"Bearer {TOKEN}"}, {},
                     {"accessToken": TOKEN}),
    "confluence": ("GET", "/wiki/rest/api/space", {"Authorization": BASIC},
                   {"instanceUrl": "{base}", "spaceKeys": ["ENG"]},
                   {"email": "me@example.com", "apiToken": TOKEN}),
    "salesforce": ("GET", "/services/data/", {"Authorization": f"Bearer {TOKEN}"},
                   {"objects": ["Account"], "instanceUrl": "{base}"},
                   {"authType": "oauth2", "accessToken": TOKEN}),
    "universal": ("GET", "/v1/ping", {"X-Key": TOKEN},
                  {"baseUrl": "{base}/v1/ping", "allowedHosts": ["localhost"]},
                  {"authType": "apiKey", "apiKey": TOKEN, "headerName": "X-Key"}),
}


@NO_DATABASE
@pytest.mark.parametrize("type_name", list(TYPES))
def test_each_http_type_calls_its_authenticated_endpoint(
    tester_client: Client, remote: HTTPServer, type_name: str
) -> None:
    method, path, required, config, credentials = TYPES[type_name]
    base = f"https://localhost:{remote.port}"
    config = {k: v.replace("{base}", base) if isinstance(v, str) else v
              for k, v in config.items()}
    remote.expect_request(path, method=method, headers=required).respond_with_json({})
    response = unsaved_test(tester_client, {"config": config, "credentials": credentials},
                            type_name)
    assert response.status_code == 200, response.text
    remote.check_assertions()


@NO_DATABASE
def test_a_universal_oauth2_client_gets_a_token_first(
    tester_client: Client, remote: HTTPServer
) -> None:
    client_basic = "Basic " + base64.b64encode(b"client-1:client-secret-1").decode()
    remote.expect_request("/token", method="POST", headers={"Authorization": client_basic},
                          data="grant_type=client_credentials").respond_with_json(
        {"access_token": "issued-token-1", "token_type": "Bearer"})
    remote.expect_request("/v1/ping", headers={"Authorization": "Bearer issued-token-1"}
                          ).respond_with_json({})
    base = f"https://localhost:{remote.port}"
    body = universal(remote.port, authType="oauth2", clientId="client-1",
                     clientSecret="client-secret-1", tokenUrl=f"{base}/token")
    assert unsaved_test(tester_client, body).status_code == 200
    remote.check_assertions()
    remote.clear()
    remote.expect_request("/token", method="POST").respond_with_json(
        {"error": "invalid_client"}, status=401)
    refused = unsaved_test(tester_client, body)
    assert refused.status_code == 403, refused.text
    assert "invalid_client" in refused.json()["detail"]
    assert "client-secret-1" not in refused.text


@NO_DATABASE
def test_a_salesforce_password_login_is_refused_as_403(
    tester_client: Client, remote: HTTPServer
) -> None:
    fault = ("<soapenv:Envelope><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN"
             "</faultcode><faultstring>INVALID_LOGIN: Invalid username, password, security "
             "token; or user locked out.</faultstring></soapenv:Fault></soapenv:Body>"
             "</soapenv:Envelope>")
    remote.expect_request("/services/Soap/u/59.0", method="POST",
                          headers={"SOAPAction": "login"}).respond_with_data(
        fault, status=500, content_type="text/xml")
    body = {"config": {"objects": ["Account"],
                       "instanceUrl": f"https://localhost:{remote.port}"},
            "credentials": {"authType": "password", "username": "me@example.com",
                            "password": "pw-secret-1", "securityToken": "tok-secret-2"}}
    response = unsaved_test(tester_client, body, "salesforce")
    assert response.status_code == 403, response.text
    remote.check_assertions()
    assert "pw-secret-1" not in response.text


@NO_DATABASE
def test_a_base_url_outside_the_allowed_hosts_is_refused(
    tester_client: Client, remote: HTTPServer
) -> None:
    body = universal(remote.port)
    body["config"]["allowedHosts"] = ["api.example.com"]
    response = unsaved_test(tester_client, body)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/target-not-allowed")
    assert remote.log == []


@pytest.mark.parametrize("body", [
    {}, [], {"config": {}}, {"config": {"baseUrl": "ftp://x"}, "credentials": {}},
    {"config": {"baseUrl": "https://a.example", "allowedHosts": ["a.example"]},
     "credentials": {"authType": "bearer"}, "extra": 1},
])
@NO_DATABASE
def test_invalid_input_is_400_with_pointers_and_contacts_nothing(
    tester_client: Client, remote: HTTPServer, body: Any
) -> None:
    response = unsaved_test(tester_client, body)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/validation-failed")
    assert all(e["pointer"] for e in response.json()["errors"]) or body == []
    assert remote.log == []


@NO_DATABASE
def test_an_unknown_type_is_404(tester_client: Client) -> None:
    response = unsaved_test(tester_client, {"config": {}}, "ftp")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/connector-type-not-found")


# PostgreSQL and S3 -----------------------------------------------------------------------------

def _pg(role: PasswordRole, password: str | None = None, database: str | None = None
        ) -> dict[str, Any]:
    return {"config": {"host": role.host, "port": role.port,
                       "database": database or role.database},
            "credentials": {"username": role.user, "password": password or role.password,
                            "sslmode": "disable"}}


@NO_DATABASE
def test_postgresql_connects_and_refuses_a_wrong_password(
    tester_client: Client, pg_role: PasswordRole
) -> None:
    assert unsaved_test(tester_client, _pg(pg_role), "postgresql").status_code == 200
    wrong = unsaved_test(tester_client, _pg(pg_role, password="not-the-password"),
                         "postgresql")
    assert wrong.status_code == 403, wrong.text
    assert "password authentication failed" in wrong.json()["detail"]
    assert "not-the-password" not in wrong.text
    missing = unsaved_test(tester_client, _pg(pg_role, database="no_such_db"), "postgresql")
    assert missing.status_code == 502, missing.text
    assert "does not exist" in missing.json()["detail"]


def _s3(store: S3Server, secret: str | None = None, bucket: str = BUCKET) -> dict[str, Any]:
    return {"config": {"bucket": bucket, "region": REGION, "endpoint": store.endpoint},
            "credentials": {"accessKeyId": store.access_key_id,
                            "secretAccessKey": secret or store.secret_access_key}}


@NO_DATABASE
def test_s3_lists_the_bucket_and_refuses_a_wrong_secret(tester_client: Client,
                                                         s3: S3Server) -> None:
    assert unsaved_test(tester_client, _s3(s3), "s3").status_code == 200
    wrong = unsaved_test(tester_client, _s3(s3, secret="wrong-secret-key"), "s3")
    assert wrong.status_code == 403, wrong.text
    assert "SignatureDoesNotMatch" in wrong.json()["detail"]
    missing = unsaved_test(tester_client, _s3(s3, bucket="no-such-bucket"), "s3")
    assert missing.status_code == 502, missing.text
    assert "NoSuchBucket" in missing.json()["detail"]


# The address guard -----------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
@NO_DATABASE
def test_loopback_targets_are_refused_unless_allowed(
    client: Client, tester_client: Client, remote: HTTPServer, host: str
) -> None:
    remote.expect_request("/v1/ping").respond_with_json({})
    body = universal(remote.port)
    body["config"] |= {"baseUrl": f"https://{host}:{remote.port}/v1/ping",
                       "allowedHosts": [host]}
    refused = unsaved_test(client, body)  # the default settings: private targets refused
    assert refused.status_code == 400, refused.text
    assert refused.json()["type"].endswith("/target-not-allowed")
    assert remote.log == []
    assert unsaved_test(tester_client, body).status_code == 200
    assert len(remote.log) == 1


# Saved connectors ------------------------------------------------------------------------------

def test_a_saved_connector_records_each_outcome(
    tester_client: Client, remote: HTTPServer, backend: Backend, registry: Registry
) -> None:
    remote.expect_request("/v1/ping", headers={"Authorization": f"Bearer {TOKEN}"}
                          ).respond_with_json({})
    remote.expect_request("/v1/ping").respond_with_json({"message": "nope"}, status=403)
    caller = headers(roles=("editor",), subject="editor-1")
    body = universal(remote.port) | {"name": "Pinged", "type": "universal", "scope": "org"}
    created = tester_client.post("/internal/v1/connectors", json=body, headers=caller)
    assert created.status_code == 201, created.text
    path = created.headers["location"]
    assert created.json()["lastTestedAt"] is None and created.json()["lastTest"] is None

    credential = f"/internal/v1/credentials/{created.json()['credentialId']}"
    assert tester_client.get(credential, headers=caller).json()["errors"] == []
    ok = tester_client.post(f"{path}/test", headers=caller)
    assert ok.status_code == 200, ok.text
    checked = tester_client.get(f"{credential}/history", headers=headers()).json()["history"]
    assert checked[0]["changes"] == ["Validated: ok"]
    after = tester_client.get(path, headers=caller).json()
    assert after["lastTestedAt"] is not None
    assert after["lastTest"] | {"latencyMs": 0} == {"ok": True, "status": 200,
                                                    "message": None, "latencyMs": 0}
    rotated = tester_client.put(f"{path}/credentials", headers=caller,
                                json={"authType": "bearer", "token": "other-token-value"})
    assert rotated.status_code == 200, rotated.text
    refused = tester_client.post(f"{path}/test", headers=caller)
    assert refused.status_code == 403, refused.text
    last = tester_client.get(path, headers=caller).json()["lastTest"]
    assert (last["ok"], last["status"]) == (False, 403) and "nope" in last["message"]
    errors = tester_client.get(credential, headers=caller).json()["errors"]
    assert len(errors) == 1 and "nope" in errors[0]  # the owned credential says so too
    history = tester_client.get(f"{path}/history", headers=headers()).json()["history"]
    texts = [text for entry in history for text in entry["changes"]]
    assert "Tested connection: ok" in texts and "Tested connection: refused (403)" in texts
    dump = backend.dump()
    assert TOKEN not in dump and "other-token-value" not in dump
    uuid = registry.connectors.page("acme", limit=10)[0].id
    live = registry.connectors.get("acme", uuid)
    registry.rebuild()
    assert registry.connectors.get("acme", uuid) == live


def test_only_callers_who_may_change_a_connector_may_test_it(
    tester_client: Client, remote: HTTPServer
) -> None:
    owner = headers(roles=("editor",), subject="owner-1")
    body = universal(remote.port) | {"name": "Mine", "type": "universal", "scope": "org"}
    path = tester_client.post("/internal/v1/connectors", json=body,
                              headers=owner).headers["location"]
    other = tester_client.post(f"{path}/test", headers=headers(roles=("editor",),
                                                               subject="editor-2"))
    assert other.status_code == 403 and other.json()["type"].endswith("/connector-forbidden")
    collector = tester_client.post(f"{path}/test", headers=headers(roles=("collector",)))
    assert collector.status_code == 403 and collector.json()["type"].endswith("/forbidden")
    assert remote.log == []
