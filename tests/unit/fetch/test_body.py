"""The body the checks read: decoded incrementally (gzip, deflate with and without its zlib
header, br), never past its bound, whatever the wire sends."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import zlib

import brotli
import pytest

from fanout.fetch.body import BodyInspector

TEXT = ("healthy " * 5_000 + "THE END").encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODINGS = {
    "identity": lambda d: d,
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,
    "br": lambda d: bytes(brotli.compress(d)),
}


def inspect(
    wire: bytes, encoding: str, limit: int, *, chunk: int = 1_000, content_type: str = ""
) -> BodyInspector:
    inspector = BodyInspector(limit, content_encoding=encoding, content_type=content_type)
    for start in range(0, len(wire), chunk):
        if inspector.full:
            break
        inspector.feed(wire[start : start + chunk])
    return inspector


@pytest.mark.parametrize("coding", list(ENCODINGS))
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_every_encoding_decodes_whole_in_any_chunking(coding: str, chunk: int) -> None:
    wire = ENCODINGS[coding](TEXT)
    header = "deflate" if coding == "raw-deflate" else coding
    inspector = inspect(wire, header, limit=1 << 20, chunk=chunk)
    assert inspector.error is None
    assert inspector.text() == TEXT.decode()


@pytest.mark.parametrize("coding", list(ENCODINGS))
def test_decoding_stops_at_the_bound(coding: str) -> None:
    wire = ENCODINGS[coding](TEXT)
    header = "deflate" if coding == "raw-deflate" else coding
    inspector = inspect(wire, header, limit=100)
    assert inspector.full
    assert inspector.text() == TEXT[:100].decode()


def test_a_corrupt_body_and_an_unknown_coding_are_errors_not_exceptions() -> None:
    corrupt = inspect(b"\x1f\x8b\x08\x00garbage" * 10, "gzip", limit=1000)
    assert corrupt.error is not None
    assert "cannot be decoded" in corrupt.error
    assert corrupt.text() == ""
    unknown = inspect(b"abc", "zstd", limit=1000)
    assert unknown.error == "unknown content-encoding 'zstd'"


def test_the_charset_of_the_content_type_is_used() -> None:
    latin = "Café".encode("latin-1")
    assert inspect(latin, "", 100, content_type="text/html; charset=ISO-8859-1").text() == "Café"
    assert inspect("Café".encode(), "", 100, content_type="text/html").text() == "Café"
    assert inspect(b"caf\xe9", "", 100, content_type="text/plain; charset=nope").text() == "caf\ufffd"


BOMB_CHILD = textwrap.dedent(
    """
    import gzip, resource, sys, brotli, zlib
    from fanout.fetch.body import BodyInspector

    coding, mib, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if coding == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        zero = bytes(1 << 20)
        wire = b"".join(c.compress(zero) for _ in range(mib)) + c.flush()
    else:
        c = brotli.Compressor(quality=1)
        zero = bytes(1 << 20)
        wire = b"".join(bytes(c.process(zero)) for _ in range(mib)) + bytes(c.finish())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    inspector = BodyInspector(limit, content_encoding=coding)
    for start in range(0, len(wire), 16_384):
        inspector.feed(wire[start:start + 16_384])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(wire), len(inspector.text()), (after - before) // 1024)
    """
)


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_bomb_costs_at_most_the_bound_in_memory(coding: str) -> None:
    """1 GiB of zeros compressed: fed in whole, decoded only to 64 KiB (peak RSS of a fresh
    process, measured around the feeding)."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", BOMB_CHILD, coding, "1024", "65536"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    ).stdout.split()
    wire_bytes, kept, grew_mib = map(int, out)
    assert wire_bytes < 2 << 20  # it really is a bomb: ~1 MiB on the wire for 1 GiB
    assert kept == 65_536
    assert grew_mib < 16, f"peak RSS grew {grew_mib} MiB while decoding a {coding} bomb"
