"""Every setting the service reads from its environment, in one place.

Settings are read once, on the first ``get_settings()`` (the handler's init: Lambda fixes a
function's environment for its lifetime), never when a module is imported. ``load_settings``
builds a ``Settings`` from any mapping; ``configure`` makes one current (tests and tools).
The variables, their types, defaults, bounds and meanings are declared once, in ``model``
(the field groups in ``fetch_fields`` and ``service_fields``, what a setting is in ``fields``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from fanout.config.fields import (
    SQS_MAX_MESSAGE_BYTES,
    AtMost,
    ConfigError,
    EventLoopName,
    Network,
    Section,
    TransportName,
    parse_cidrs,
)
from fanout.config.model import Settings

__all__ = [
    "SQS_MAX_MESSAGE_BYTES",
    "AtMost",
    "ConfigError",
    "EventLoopName",
    "Network",
    "Section",
    "Settings",
    "TransportName",
    "configure",
    "env_names",
    "get_settings",
    "load_settings",
    "parse_cidrs",
]


def env_names() -> Mapping[str, str]:
    """Setting name -> environment variable name (for docs and tests)."""
    return {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``); empty values mean default.

    A bad value raises ``ConfigError`` naming the variable and the rule it breaks.
    """
    env = os.environ if environ is None else environ
    given = {var: raw for var in env_names().values() if (raw := env.get(var, "").strip())}
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        raise ConfigError(_first_problem(exc, given)) from None


_RULES = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "literal_error": "must be {expected}",
}


def _first_problem(exc: ValidationError, given: Mapping[str, str]) -> str:
    """``FANOUT_MAX_URLS: must be >= 1 (got '0')``: the variable, the rule, the value."""
    error = exc.errors(include_url=False)[0]
    ctx: dict[str, Any] = error.get("ctx") or {}
    # A rule between settings (a default above its maximum) has no location: it names its setting.
    var = str(error["loc"][0]) if error["loc"] else env_names()[ctx["setting"]]
    if error["type"] == "value_error" and isinstance(ctx.get("error"), ConfigError):
        return str(ctx["error"])  # already names its variable (an egress network)
    template = _RULES.get(error["type"])
    rule = template.format(**{k: _plain(v) for k, v in ctx.items()}) if template else error["msg"]
    return f"{var}: {rule} (got {given.get(var, '')!r})"


def _plain(value: object) -> object:
    """``0`` for pydantic's ``0.0`` bound of a float field: the bound as it was declared."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_current: Settings | None = None


def get_settings() -> Settings:
    """The process's settings: read from the environment once, on first use."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def configure(settings: Settings | None) -> None:
    """Make ``settings`` current (``None``: read the environment again on next use)."""
    global _current
    _current = settings
