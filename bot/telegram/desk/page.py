"""The desk's page and its two assets, shipped inside the package (``static/``, listed in
pyproject's package data), and the headers every answer under the desk's path carries: a CSP
that allows the desk's own files and Telegram's ``telegram-web-app.js`` only, framed by
Telegram's web clients only; no caching of the API's figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.resources import files

from aiohttp import web

from bot.telegram.desk import api
from bot.telegram.desk.router import make_router

#: The one third-party script: Telegram's Mini App bridge, by its exact address.
TELEGRAM_JS = "https://telegram.org/js/telegram-web-app.js"
#: Telegram Web (web.telegram.org/k/ and /a/) opens a Mini App in a frame.
FRAME_ANCESTORS = "https://web.telegram.org https://*.telegram.org"
CSP = "; ".join(
    (
        "default-src 'none'",
        f"script-src 'self' {TELEGRAM_JS}",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        f"frame-ancestors {FRAME_ANCESTORS}",
    )
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
ASSETS = {
    "": ("index.html", "text/html"),
    "desk.js": ("desk.js", "text/javascript"),
    "desk.css": ("desk.css", "text/css"),
}


def _asset(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = files("bot.telegram.desk").joinpath("static", name).read_bytes()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(
            body=body,
            content_type=content_type,
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    return serve


@web.middleware
async def secured(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every answer under the desk's path: the CSP and its companions; the API's never cached."""
    response = await handler(request)
    prefix = request.app[PREFIX]
    if request.path.startswith(prefix):
        response.headers.update(HEADERS)
        if request.path.startswith(prefix + "api/"):
            response.headers["Cache-Control"] = "no-store"
    return response


PREFIX: web.AppKey[str] = web.AppKey("desk_prefix")


def add_desk(web_app: web.Application, prefix: str, parts: api.DeskParts) -> None:
    """The desk under ``prefix`` (``/desk/``): its page, assets and API, with their headers."""
    web_app[api.PARTS] = parts
    web_app[PREFIX] = prefix
    web_app.middlewares.append(secured)
    if prefix != "/":
        web_app.router.add_get(prefix.rstrip("/"), _to_page(prefix))
    for path, (name, content_type) in ASSETS.items():
        web_app.router.add_get(prefix + path, _asset(name, content_type))
    web_app.router.add_routes(make_router(prefix))


def _to_page(prefix: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(prefix)

    return redirect
