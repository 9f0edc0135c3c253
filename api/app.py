"""``create_app``: the Litestar application over a registry."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from api.audit import AuditMiddleware
from api.auth import bearer_auth
from api.errors import EXCEPTION_HANDLERS
from api.generate import GenerateController, ModelController, health
from api.permissions import role_guard
from api.schemas import SchemaController
from api.tokens import TokenController
from api.trail import AuditController
from registry.auth import TokenVerifier
from registry.service import Registry
from registry.settings import Settings

API_PREFIX = "/internal/v1/connector/universal"


def create_app(
    settings: Settings, *, registry: Registry | None = None, follow: bool = False
) -> Litestar:
    """The API app. It opens its own registry on start-up unless one is given."""
    verifier = TokenVerifier.from_settings(settings.jwt_settings())
    state = State({"registry": registry})

    def start(app: Litestar) -> None:
        if app.state.registry is None:
            app.state.registry = Registry(settings)
            app.state.owns_registry = True
        if follow:
            app.state.registry.start_following()

    def stop(app: Litestar) -> None:
        if app.state.get("owns_registry"):
            app.state.registry.close()
            app.state.registry = None

    internal = Router(
        path="/",
        route_handlers=[
            Router(API_PREFIX, route_handlers=[SchemaController, GenerateController,
                                               ModelController]),
            TokenController,
            AuditController,
        ],
        guards=[role_guard],
    )
    return Litestar(
        route_handlers=[internal, health],
        middleware=[AuditMiddleware(), bearer_auth(verifier)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=settings.max_body_bytes,
        on_startup=[start],
        on_shutdown=[stop],
        state=state,
        openapi_config=OpenAPIConfig(
            title="Connector Schema Registry",
            version="1.0.0",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )


def app_from_env(**kwargs: Any) -> Litestar:
    """The app configured from the environment (used by ``registry serve``)."""
    return create_app(Settings.from_env(), follow=True, **kwargs)
