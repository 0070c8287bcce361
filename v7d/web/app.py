"""The Starlette app factory every v7d HTTP surface is built with.

``create_app(routes=..., health=...)`` gives an app with ``GET /health``, the given
routes, and the error envelope for everything that can go wrong (see
:mod:`v7d.web.errors`). The daemon builds the query app and the control app with it;
the query work only adds routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from v7d.web.errors import CatchUnhandled, exception_handlers
from v7d.web.health import HealthSource, health_endpoint

__all__ = ["create_app"]


def create_app(
    *,
    routes: Sequence[BaseRoute],
    health: HealthSource,
    debug: bool = False,
    middleware: Sequence[Middleware] = (),
    lifespan: Any = None,
) -> Starlette:
    """Build an app answering ``GET /health`` from ``health`` plus ``routes``.

    ``middleware`` runs inside the 500 catcher, so an exception in (say) an auth guard is
    still answered with the envelope. ``debug`` is passed to Starlette (tracebacks in
    500 pages): never in production.
    """
    return Starlette(
        debug=debug,
        routes=[Route("/health", health_endpoint(health), methods=["GET"]), *routes],
        middleware=[Middleware(CatchUnhandled), *middleware],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
