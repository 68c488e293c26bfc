"""Every route of an app with its full path and methods, across included routers.

FastAPI from 0.160 on keeps included routers as nodes of their own in ``app.routes``
(reached through :func:`fastapi.routing.iter_route_contexts`); older versions list the
routes themselves. :func:`app_routes` reads both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.routing import compile_path

__all__ = ["AppRoute", "app_routes"]


@dataclass(frozen=True)
class AppRoute:
    """One route: its full path, the regex that matches it, its methods and the route."""

    path: str
    regex: re.Pattern[str]
    methods: frozenset[str]
    route: Any


def app_routes(routes: Any) -> list[AppRoute]:
    """The routes in ``routes`` (an app's ``routes``), included routers flattened."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included-router nodes
        found = [(getattr(r, "path", None), getattr(r, "methods", None), r) for r in routes]
    else:
        found = [(c.path, c.methods, c.original_route) for c in iter_route_contexts(routes)]
    out = []
    for path, methods, route in found:
        if isinstance(path, str):
            regex, _, _ = compile_path(path)
            out.append(AppRoute(path, regex, frozenset(methods or ()), route))
    return out
