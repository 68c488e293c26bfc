"""Security headers on every response, with a Content-Security-Policy per kind of page.

Every response gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
``Referrer-Policy: no-referrer``, and a CSP:

- JSON and text (the API): nothing may load, nothing may frame it
  (``default-src 'none'; frame-ancestors 'none'``);
- the organiser page (any other HTML, i.e. ``GET /tables``): scripts and styles from this
  origin (``/tables/tables.js``, ``/tables/tables.css``) and any inline script by its
  SHA-256 hash (read from the page when the app is made), requests to this origin only,
  downloads of the CSV it makes (``blob:``);
- the interactive API docs (``/docs``, ``/redoc``): FastAPI's pages, which load Swagger UI
  and ReDoc from ``cdn.jsdelivr.net`` with an inline start-up script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_CSP", "DOCS_CSP", "SecurityHeadersMiddleware", "page_csp"]

PAGE = Path(__file__).resolve().parent / "static" / "tables.html"
"""The organiser page whose inline scripts the page CSP allows."""

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""The CSP of every response but HTML pages."""

DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
"""The CSP of FastAPI's interactive docs."""

_DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def page_csp(page: Path = PAGE) -> str:
    """The CSP of the organiser page: this origin's scripts and styles, inline ones by hash."""
    try:
        html = page.read_text(encoding="utf-8")
    except OSError:
        html = ""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _SCRIPT.findall(html)
    ]
    scripts = " ".join(["'self'", *hashes])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response (see the module)."""

    def __init__(self, app: ASGIApp, page: Path = PAGE) -> None:
        self.app = app
        self.page_csp = page_csp(page)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                if path in _DOCS:
                    csp = DOCS_CSP
                elif headers.get("content-type", "").startswith("text/html"):
                    csp = self.page_csp
                else:
                    csp = API_CSP
                headers["Content-Security-Policy"] = csp
            await send(message)

        await self.app(scope, receive, sending)
