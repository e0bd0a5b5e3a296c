"""The one loader of ``events/*.json`` for tests, the demo and tools.

The event files address the demo target at ``http://127.0.0.1:8321`` (the port
``make demo`` uses) and its https twin at ``https://127.0.0.1:8322``; ``load_event`` can point
them at other base URLs, including inside an API event's JSON body string.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
DEMO_BASE_URL = "http://127.0.0.1:8321"
DEMO_TLS_BASE_URL = "https://127.0.0.1:8322"


def event_path(name: str) -> Path:
    """``name`` is a file name in events/ (``api.json``) or a path."""
    candidate = Path(name)
    return candidate if candidate.exists() else EVENTS_DIR / name


def load_event(name: str, *, base_url: str | None = None, tls_base_url: str | None = None) -> Any:
    text = event_path(name).read_text(encoding="utf-8")
    if base_url is not None:
        text = text.replace(DEMO_BASE_URL, base_url.rstrip("/"))
    if tls_base_url is not None:
        text = text.replace(DEMO_TLS_BASE_URL, tls_base_url.rstrip("/"))
    return json.loads(text)


def all_event_names() -> list[str]:
    return sorted(p.name for p in EVENTS_DIR.glob("*.json"))
