"""The demo target's endpoints for response checks (``expect``), added to its router:

    /health?status=S&delay_ms=D     JSON ``{"status": S, "version": "1.4.2", "checks": {"db": "ok"}}``
    /page?title=T                   an HTML page whose <title> is T (default "Example Domain")
    /headers?H=V&...                200 with each query pair as a response header (x-cache=HIT, ...)
    /encoded/{coding}?text=T&repeat=N&tail=E
                                    T repeated N times then E, compressed: gzip, deflate (zlib), raw-deflate
                                    (sent as "deflate" without its zlib header), br, or identity
    /not-json                       200 ``text/plain`` that is not JSON

And the TLS material for an https listener: ``DemoTls`` makes a private CA with ``trustme``,
certificates for 127.0.0.1 and localhost valid for a year (or expiring in ``expires_in_days``),
and writes the CA as a PEM file for ``FANOUT_CA_BUNDLE``.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ssl
import tempfile
import zlib
from pathlib import Path

import brotli
from aiohttp import web

DEFAULT_TITLE = "Example Domain"


def _delay_ms(request: web.Request) -> float:
    return float(request.query.get("delay_ms", "0"))


async def health(request: web.Request) -> web.Response:
    if (delay := _delay_ms(request)) > 0:
        await asyncio.sleep(delay / 1000)
    status = request.query.get("status", "UP")
    return web.json_response({"status": status, "version": "1.4.2", "checks": {"db": "ok"}})


async def page(request: web.Request) -> web.Response:
    title = request.query.get("title", DEFAULT_TITLE)
    html = f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def headers(request: web.Request) -> web.Response:
    return web.Response(text="headers", headers=dict(request.query))


def _encode(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "raw-deflate":
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        return compressor.compress(data) + compressor.flush()
    if coding == "br":
        return bytes(brotli.compress(data))
    return data


async def encoded(request: web.Request) -> web.Response:
    coding = request.match_info["coding"]
    text = request.query.get("text", "healthy ") * int(request.query.get("repeat", "1"))
    text += request.query.get("tail", "")
    body = _encode(coding, text.encode())
    wire = "deflate" if coding == "raw-deflate" else coding
    response_headers = {"Content-Type": "text/plain; charset=utf-8"}
    if wire != "identity":
        response_headers["Content-Encoding"] = wire
    return web.Response(body=body, headers=response_headers)


async def not_json(request: web.Request) -> web.Response:
    return web.Response(text="{not json", content_type="text/plain")


def add_check_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", health)
    router.add_get("/page", page)
    router.add_get("/headers", headers)
    router.add_get("/encoded/{coding}", encoded)
    router.add_get("/not-json", not_json)


class DemoTls:
    """A private CA and server certificates for 127.0.0.1 / localhost, made with ``trustme``."""

    def __init__(self) -> None:
        import trustme

        self.ca = trustme.CA()
        self._dir = tempfile.TemporaryDirectory(prefix="fanout-tls-")
        self.ca_file = Path(self._dir.name) / "demo-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self, *, expires_in_days: float = 365.0) -> ssl.SSLContext:
        """A server context whose certificate expires in ``expires_in_days``."""
        not_after = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=expires_in_days)
        cert = self.ca.issue_cert("127.0.0.1", "localhost", common_name="fanout demo", not_after=not_after)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def close(self) -> None:
        self._dir.cleanup()
