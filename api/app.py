"""``create_app``: the Litestar application over a registry."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide

from api.access import AccessMiddleware, caller_of
from api.bodies import json_document
from api.catalogue import ConnectorTypeController
from api.connection_tests import ConnectionTestController
from api.connections import AuthSchemeConfigController, ConnectionController
from api.connectors import ConnectorController
from api.credentials import CredentialController
from api.docs import DocController
from api.feed import FeedController, end_streams_on_signals
from api.generate import GenerateController, ModelController, health
from api.hot_path import SchemaReads
from api.oauth import OAuthController
from api.observability import RequestIds, ready
from api.openapi import openapi_config
from api.params import UNIVERSAL
from api.problems import problem_details_plugin, unexpected
from api.records import RecordController
from api.schemas import SchemaController
from api.scripts import ScriptVersionController
from api.sync import SyncJobController
from api.tokens import TokenController
from api.tools import ToolController
from api.trail import AuditController
from api.webhooks import WebhookController
from registry.access import Authenticator
from registry.auth import TokenVerifier
from registry.connection.tester import ConnectionTester
from registry.logs import configure_logging
from registry.service import Registry
from registry.settings import Settings


def create_app(
    settings: Settings, *, registry: Registry | None = None, follow: bool = False
) -> Litestar:
    """The API app. It opens its own registry on start-up unless one is given."""
    verifier = TokenVerifier.from_settings(settings.jwt)

    def start(app: Litestar) -> None:
        if app.state.registry is None:
            app.state.registry = Registry(settings)
            app.state.owns_registry = True
        app.state.authenticator = Authenticator(verifier, app.state.registry)
        app.state.authenticator.reload()
        if follow:
            end_streams_on_signals(app.state.registry.changes)
            app.state.registry.start_following()
            app.state.registry.start_working()

    def stop(app: Litestar) -> None:
        if app.state.get("owns_registry"):
            app.state.registry.close()
            app.state.registry = None

    app = Litestar(
        route_handlers=[
            Router(UNIVERSAL, route_handlers=[SchemaController, RecordController, ToolController,
                                              GenerateController, ModelController,
                                              DocController]),
            ConnectorTypeController,
            ConnectorController,
            AuthSchemeConfigController,
            ConnectionController,
            ConnectionTestController,
            ScriptVersionController,
            SyncJobController,
            OAuthController,
            CredentialController,
            TokenController,
            AuditController,
            FeedController,
            WebhookController,
            health,
            ready,
        ],
        dependencies={
            "caller": Provide(caller_of, sync_to_thread=False),
            "document": Provide(json_document),
            "tester": Provide(_tester, sync_to_thread=False),
        },
        middleware=[AccessMiddleware()],
        plugins=[problem_details_plugin()],
        exception_handlers={Exception: _unexpected},
        request_max_body_size=settings.max_body_bytes,
        on_startup=[start],
        on_shutdown=[stop],
        state=State({"registry": registry,
                     "tester": ConnectionTester(settings.connections)}),
        openapi_config=openapi_config(),
        debug=False,
        logging_config=None,  # logging is registry.logs.configure_logging's, not Litestar's
    )
    # Around everything Litestar does, unknown routes and its own error answers included.
    app.asgi_handler = RequestIds(SchemaReads(app, app.asgi_handler))
    return app


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return unexpected(request, error).to_response(request)


def app_from_env(**kwargs: Any) -> Litestar:
    """The app configured from the environment (used by ``registry serve``), logging to
    stderr (JSON lines unless stderr is a terminal)."""
    configure_logging()
    return create_app(Settings.from_env(), follow=True, **kwargs)


def _tester(state: State) -> ConnectionTester:
    tester: ConnectionTester = state.tester
    return tester
