"""A run document's ``monitor`` section: what the run did to its monitor's state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_LISTED_TRANSITIONS = 100


@dataclass(frozen=True, slots=True)
class Transition:
    subject: str  # a URL, or "threshold:<name><condition>"
    from_: str
    to: str

    def to_json(self) -> dict[str, str]:
        key = "threshold" if self.subject.startswith("threshold:") else "url"
        value = self.subject.removeprefix("threshold:")
        return {key: value, "from": self.from_, "to": self.to}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transition:
        subject = data["url"] if "url" in data else f"threshold:{data['threshold']}"
        return cls(subject, data["from"], data["to"])


@dataclass(frozen=True, slots=True)
class MonitorReport:
    """``transitions``: the changes this run made (the first ``MAX_LISTED_TRANSITIONS``);
    ``down``/``up``/``unknown``: the run's URLs by status after it; ``notified`` and
    ``notify_errors``: alerts sent and sends that failed (kept pending for the next run);
    ``state_errors``: URLs whose state could not be updated in the monitor's slice."""

    name: str
    transitions: tuple[Transition, ...] = ()
    transitions_total: int = 0
    down: int = 0
    up: int = 0
    unknown: int = 0
    notified: int = 0
    notify_errors: int = 0
    state_errors: int = 0
    pending: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "transitions": [t.to_json() for t in self.transitions],
            "down": self.down,
            "up": self.up,
            "unknown": self.unknown,
            "notified": self.notified,
            "notify_errors": self.notify_errors,
            "state_errors": self.state_errors,
            "pending": self.pending,
        }
        if self.transitions_total > len(self.transitions):
            out["transitions_total"] = self.transitions_total
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MonitorReport:
        transitions = tuple(Transition.from_json(t) for t in data.get("transitions") or ())
        return cls(
            name=data["name"],
            transitions=transitions,
            transitions_total=int(data.get("transitions_total", len(transitions))),
            **{k: int(data.get(k, 0)) for k in ("down", "up", "unknown", "notified", "notify_errors")},
            state_errors=int(data.get("state_errors", 0)),
            pending=int(data.get("pending", 0)),
        )
