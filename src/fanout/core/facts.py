"""What a response was, beyond its status: checks, timings, the peer, TLS, captured headers.

A result carries these ``Details`` when its entry asked for them (an ``expect``, even ``{}``,
or ``capture_headers``); ``to_json`` flattens them into the result, leaving out what does not
apply (no TLS for http, no redirects when there were none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "transfer_ms", "total_ms")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation and whether the response met it (``expected``/``actual`` when it did not)."""

    check: str
    ok: bool
    expected: Any = None
    actual: Any = None

    def to_json(self) -> dict[str, Any]:
        if self.ok:
            return {"check": self.check, "ok": True}
        return {"check": self.check, "ok": False, "expected": self.expected, "actual": self.actual}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Check:
        return cls(data["check"], bool(data["ok"]), data.get("expected"), data.get("actual"))


@dataclass(frozen=True, slots=True)
class Timings:
    """The final attempt's phases in ms (redirect hops summed); None: the transport cannot see it."""

    dns_ms: float | None
    connect_ms: float | None
    tls_ms: float | None
    ttfb_ms: float | None
    transfer_ms: float | None
    total_ms: float

    def to_json(self) -> dict[str, float | None]:
        tls = self.tls_ms
        return {
            "dns_ms": _ms(self.dns_ms),
            "connect_ms": _ms(self.connect_ms),
            "tls_ms": None if tls is None else round(tls, 1),
            "ttfb_ms": _ms(self.ttfb_ms),
            "transfer_ms": _ms(self.transfer_ms),
            "total_ms": round(self.total_ms, 1),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Timings:
        g = data.get
        return cls(
            g("dns_ms"), g("connect_ms"), g("tls_ms"), g("ttfb_ms"), g("transfer_ms"), float(data["total_ms"])
        )


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """The leaf certificate and protocol of the connection that answered."""

    version: str | None
    issuer: str
    subject: str
    sans: tuple[str, ...]
    not_after: str
    days_to_expiry: float

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "issuer": self.issuer,
            "subject": self.subject,
            "sans": list(self.sans),
            "not_after": self.not_after,
            "days_to_expiry": round(self.days_to_expiry, 1),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TlsFacts:
        return cls(
            data.get("version"),
            data["issuer"],
            data["subject"],
            tuple(data.get("sans") or ()),
            data["not_after"],
            float(data["days_to_expiry"]),
        )


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    status_code: int

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "status_code": self.status_code}


@dataclass(frozen=True, slots=True)
class Details:
    """What a checked response was; ``checks`` and ``degraded`` only when it had expectations."""

    timings: Timings | None = None
    remote_ip: str | None = None
    http_version: str | None = None
    final_url: str | None = None
    redirects: tuple[Redirect, ...] = ()
    tls: TlsFacts | None = None
    headers: Mapping[str, str] | None = None
    checks: tuple[Check, ...] | None = None
    degraded: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.checks is not None:
            out["checks"] = [c.to_json() for c in self.checks]
        if self.degraded is not None:
            out["degraded"] = self.degraded
        if self.timings is not None:
            out["timings"] = self.timings.to_json()
        for name in ("remote_ip", "http_version", "final_url"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.redirects:
            out["redirects"] = [r.to_json() for r in self.redirects]
        if self.tls is not None:
            out["tls"] = self.tls.to_json()
        if self.headers is not None:
            out["headers"] = dict(self.headers)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Details | None:
        """The details in a result's JSON, or None when it has none."""
        if not any(k in data for k in _KEYS):
            return None
        timings, tls, checks = data.get("timings"), data.get("tls"), data.get("checks")
        return cls(
            timings=None if timings is None else Timings.from_json(timings),
            remote_ip=data.get("remote_ip"),
            http_version=data.get("http_version"),
            final_url=data.get("final_url"),
            redirects=tuple(Redirect(r["url"], r["status_code"]) for r in data.get("redirects") or ()),
            tls=None if tls is None else TlsFacts.from_json(tls),
            headers=data.get("headers"),
            checks=None if checks is None else tuple(Check.from_json(c) for c in checks),
            degraded=data.get("degraded"),
        )


_KEYS = (
    "checks",
    "degraded",
    "timings",
    "remote_ip",
    "http_version",
    "final_url",
    "redirects",
    "tls",
    "headers",
)
