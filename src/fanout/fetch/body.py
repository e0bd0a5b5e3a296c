"""The first ``inspect_bytes`` of a response body, decoded, for the checks that read it.

Bodies travel compressed (gzip, deflate, br) and are counted, and capped, on the wire
(``max_body_bytes``). For the checks, the wire bytes are decompressed incrementally and never
past ``limit`` bytes of output: decompressors are asked for at most what is still wanted, and
once ``limit`` bytes are out they are fed nothing more. A gzip bomb costs at most ``limit``
bytes of memory. The text is then decoded with the response's charset (UTF-8 by default), bad
bytes replaced.
"""

from __future__ import annotations

import zlib
from email.message import Message
from functools import lru_cache
from typing import Protocol

import brotli


class _Decoder(Protocol):
    def feed(self, chunk: bytes, room: int) -> bytes: ...


class _Identity:
    def feed(self, chunk: bytes, room: int) -> bytes:
        return chunk if len(chunk) <= room else chunk[:room]


class _Zlib:
    """gzip, zlib-wrapped deflate, and raw deflate (which servers send as "deflate" too): the
    first two bytes (a zlib header, or not) decide, so they are gathered before any decoding."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._inner = zlib.decompressobj(wbits)
        self._head: bytes | None = b""

    def feed(self, chunk: bytes, room: int) -> bytes:
        if self._head is None:
            return self._inner.decompress(self._inner.unconsumed_tail + chunk, room)
        data = self._head + chunk
        if len(data) < 2:
            self._head = data
            return b""
        self._head = None
        try:
            return self._inner.decompress(data, room)
        except zlib.error:
            if self._wbits != zlib.MAX_WBITS:
                raise
            self._inner = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" without its zlib header
            return self._inner.decompress(data, room)


class _Brotli:
    def __init__(self) -> None:
        self._inner = brotli.Decompressor()

    def feed(self, chunk: bytes, room: int) -> bytes:
        if not self._inner.can_accept_more_data():
            return bytes(self._inner.process(b"", output_buffer_limit=room))
        return bytes(self._inner.process(chunk, output_buffer_limit=room))


_IDENTITY = _Identity()  # keeps nothing of a body: one for all


def _decoder(content_encoding: str) -> _Decoder | None:
    encoding = content_encoding.strip().lower() if content_encoding else ""
    if encoding in ("", "identity"):
        return _IDENTITY
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return _Zlib(zlib.MAX_WBITS)
    if encoding == "br":
        return _Brotli()
    return None


@lru_cache(maxsize=256)
def charset_of(content_type: str) -> str:
    """The charset a ``content-type`` names (UTF-8 when none); a run sees few distinct ones."""
    message = Message()
    message["content-type"] = content_type
    return message.get_content_charset() or "utf-8"


class BodyInspector:
    """Keeps the first ``limit`` decoded bytes of a body fed to it chunk by chunk (wire bytes)."""

    def __init__(self, limit: int, *, content_encoding: str = "", content_type: str = "") -> None:
        self._limit = limit
        self._decoder = _decoder(content_encoding)
        self._content_type = content_type
        self._parts: list[bytes] = []
        self._kept = 0
        self.error: str | None = (
            None if self._decoder is not None else f"unknown content-encoding {content_encoding!r}"
        )

    @property
    def full(self) -> bool:
        return self._kept >= self._limit or self._decoder is None

    def feed(self, chunk: bytes) -> None:
        if self.full or self._decoder is None:
            return
        try:
            out = self._decoder.feed(chunk, self._limit - self._kept)
        except (zlib.error, brotli.error) as exc:
            self.error = f"the body cannot be decoded: {exc}"
            self._decoder = None
            return
        if out:
            room = self._limit - self._kept
            if len(out) > room:
                out = out[:room]
            self._parts.append(out)
            self._kept += len(out)

    def text(self) -> str:
        """The kept bytes as text (the response's charset; bad bytes replaced)."""
        parts = self._parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        try:
            return data.decode(charset_of(self._content_type), errors="replace")
        except LookupError:  # an unknown charset
            return data.decode("utf-8", errors="replace")
