"""Monitor states as DynamoDB items: the key attributes, ``version`` (the conditional writes'),
``status`` and ``expires_at`` (TTL) as attributes, and the rest as one compact JSON document
(``doc``), which keeps an item small (its size: docs/benchmarks.md).

Keys (table ``MonitorsTable``, ``pk``/``sk``)::

    pk "monitor#<name>"   sk "url#<subject id>"          one URL's state
    pk "monitor#<name>"   sk "threshold#<subject id>"     one run threshold's state
    pk "monitor#<name>"   sk "region#<subject id>"        a regional monitor's region (liveness)
    pk "monitors"         sk "<name>"                     the monitor: last run, counts
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fanout.core.monitors import Alert, Health, Observation, SubjectState, subject_id
from fanout.core.results import ErrorInfo
from fanout.core.rounds import Liveness, RegionFacts, Round, RoundBook, Vote
from fanout.core.uptime import Day, History, Hour

Item = dict[str, Any]
MONITORS_PK = "monitors"


def state_key(monitor: str, subject: str) -> Item:
    kind = "threshold" if subject.startswith("threshold:") else "url"
    if subject.startswith("region:"):
        kind = "region"
    return {"pk": {"S": f"monitor#{monitor}"}, "sk": {"S": f"{kind}#{subject_id(subject)}"}}


def summary_key(monitor: str) -> Item:
    return {"pk": {"S": MONITORS_PK}, "sk": {"S": monitor}}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _observation(o: Observation) -> dict[str, Any]:
    return {
        "key": o.key,
        "run_id": o.run_id,
        "at": o.at,
        "passed": o.passed,
        "outcome": o.outcome,
        "status_code": o.status_code,
        "error": None if o.error is None else o.error.to_json(),
        "checks_failed": list(o.checks_failed),
        "latency_ms": o.latency_ms,
        "report": None if o.report is None else list(o.report),
    } | _regional_observation(o)


def _observation_of(d: Mapping[str, Any]) -> Observation:
    error = d.get("error")
    return Observation(
        key=d["key"],
        run_id=d["run_id"],
        at=float(d["at"]),
        passed=d.get("passed"),
        outcome=d["outcome"],
        status_code=d.get("status_code"),
        error=None if error is None else ErrorInfo.from_json(error),
        checks_failed=tuple(d.get("checks_failed") or ()),
        latency_ms=d.get("latency_ms"),
        report=None if d.get("report") is None else (d["report"][0], d["report"][1]),
        region=d.get("region"),
        round=d.get("round"),
        regions=tuple(_vote_of(v) for v in d.get("regions") or ()),
    )


def _regional_observation(o: Observation) -> dict[str, Any]:
    """A regional monitor's observation's region, round and votes (left out of any other's)."""
    out: dict[str, Any] = {}
    if o.region is not None:
        out["region"] = o.region
    if o.round is not None:
        out["round"] = o.round
    if o.regions:
        out["regions"] = [_vote(v) for v in o.regions]
    return out


def _vote(v: Vote) -> list[Any]:
    return [v.region, v.passed, v.outcome, v.at, v.status_code, v.latency_ms]


def _vote_of(d: Sequence[Any]) -> Vote:
    region, passed, outcome, at, status_code, latency_ms = d
    return Vote(region, passed, outcome, float(at), status_code, latency_ms)


def _rounds(state: SubjectState) -> dict[str, Any]:
    """A regional subject's open rounds, region figures and liveness (left out of any other's)."""
    out: dict[str, Any] = {}
    book = state.rounds
    if book != RoundBook():
        out["rounds"] = {
            "open": [[r.id, r.verdict, [_vote(v) for v in r.votes]] for r in book.open],
            "closed_through": book.closed_through,
            "undecided": book.undecided,
            "late_dropped": book.late_dropped,
        }
    if state.region_facts:
        out["region_facts"] = [
            [f.region, _vote(f.last), _history(History(days=f.days))["days"]] for f in state.region_facts
        ]
    if state.liveness is not None:
        out["liveness"] = [[[r, list(by)] for r, by in state.liveness.known], state.liveness.last]
    return out


def _rounds_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    book = doc.get("rounds")
    if book:
        out["rounds"] = RoundBook(
            open=tuple(
                Round(rid, tuple(_vote_of(v) for v in votes), verdict) for rid, verdict, votes in book["open"]
            ),
            closed_through=book.get("closed_through"),
            undecided=int(book.get("undecided", 0)),
            late_dropped=int(book.get("late_dropped", 0)),
        )
    if doc.get("region_facts"):
        out["region_facts"] = tuple(
            RegionFacts(region, _vote_of(last), _history_of({"days": days}).days)
            for region, last, days in doc["region_facts"]
        )
    if doc.get("liveness") is not None:
        known, last = doc["liveness"]
        out["liveness"] = Liveness(tuple((r, tuple(by)) for r, by in known), last)
    return out


def _alert(a: Alert) -> dict[str, Any]:
    return (
        {
            "id": a.id,
            "from": a.from_.value,
            "to": a.to.value,
            "since": a.since,
            "observation": _observation(a.observation),
            "claimed_by": a.claimed_by,
            "claimed_until": a.claimed_until,
            "delivered": list(a.delivered),
        }
        | ({} if a.from_since is None else {"from_since": a.from_since})
        | ({} if a.event == "changed" else {"event": a.event})
    )


def _alert_of(subject: str, d: Mapping[str, Any]) -> Alert:
    return Alert(
        id=d["id"],
        subject=subject,
        from_=Health(d["from"]),
        to=Health(d["to"]),
        since=float(d["since"]),
        observation=_observation_of(d["observation"]),
        claimed_by=d.get("claimed_by"),
        claimed_until=float(d.get("claimed_until") or 0.0),
        delivered=tuple(d.get("delivered") or ()),
        from_since=None if d.get("from_since") is None else float(d["from_since"]),
        event=d.get("event") or "changed",
    )


def _history(h: History) -> dict[str, Any]:
    return {
        "hours": [[x.start, x.ok, x.failed, *([x.maintenance] if x.maintenance else [])] for x in h.hours],
        "days": [
            [d.day, d.ok, d.failed, d.p50_ms, d.p95_ms, list(d.histogram)]
            + ([d.maintenance, d.maintenance_ms] if d.maintenance else [])
            for d in h.days
        ],
    }


def _history_of(d: Mapping[str, Any]) -> History:
    return History(
        hours=tuple(
            Hour(int(s), int(ok), int(failed), *map(int, m)) for s, ok, failed, *m in d.get("hours") or ()
        ),
        days=tuple(
            Day(day, int(ok), int(failed), p50, p95, tuple(int(n) for n in hist), *map(int, m))
            for day, ok, failed, p50, p95, hist, *m in d.get("days") or ()
        ),
    )


def state_item(monitor: str, state: SubjectState, *, version: int, expires_at: int) -> Item:
    """The item storing ``state`` at ``version``."""
    doc = {
        "since": state.since,
        "failures": state.failures,
        "successes": state.successes,
        "last": None if state.last is None else _observation(state.last),
        "last_checked_at": state.last_checked_at,
        "applied": list(state.applied),
        "pending": [_alert(a) for a in state.pending],
        "dropped_alerts": state.dropped_alerts,
        "history": _history(state.history),
        **_told(state),
        **_rounds(state),
    }
    return state_key(monitor, state.subject) | {
        "subject": {"S": state.subject},
        "status": {"S": state.status.value},
        "version": {"N": str(version)},
        "expires_at": {"N": str(expires_at)},
        "doc": {"S": _dumps(doc)},
    }


def item_state(item: Mapping[str, Any]) -> SubjectState:
    subject = item["subject"]["S"]
    doc = json.loads(item["doc"]["S"])
    last = doc.get("last")
    return SubjectState(
        subject=subject,
        status=Health(item["status"]["S"]),
        since=doc.get("since"),
        failures=int(doc.get("failures", 0)),
        successes=int(doc.get("successes", 0)),
        last=None if last is None else _observation_of(last),
        last_checked_at=doc.get("last_checked_at"),
        version=int(item["version"]["N"]),
        applied=tuple(doc.get("applied") or ()),
        pending=tuple(_alert_of(subject, a) for a in doc.get("pending") or ()),
        dropped_alerts=int(doc.get("dropped_alerts", 0)),
        history=_history_of(doc.get("history") or {}),
        **_told_of(doc, Health(item["status"]["S"])),
        **_rounds_of(doc),
    )


def _told(state: SubjectState) -> dict[str, Any]:
    """What subscribers were told, left out when it is what a state without it reads as."""
    kept = {"told": [state.told.value, state.told_since, state.told_at]}
    if state.suppressed_by:
        kept["suppressed_by"] = list(state.suppressed_by)
    implied = _told_of({"since": state.since}, state.status)
    if not state.suppressed_by and implied == {k: getattr(state, k) for k in implied}:
        return {}
    return kept


def _told_of(doc: Mapping[str, Any], status: Health) -> dict[str, Any]:
    """What subscribers were told; a state stored before it was kept counts as told its status."""
    told = doc.get("told")
    since = doc.get("since")
    if told is None:
        down = status is Health.DOWN
        return {"told": status, "told_since": since if down else None, "told_at": since if down else None}
    return {
        "told": Health(told[0]),
        "told_since": told[1],
        "told_at": told[2],
        "suppressed_by": tuple(doc.get("suppressed_by") or ()),
    }


def summary_item(monitor: str, summary: Mapping[str, Any], *, expires_at: int) -> Item:
    return summary_key(monitor) | {"expires_at": {"N": str(expires_at)}, "doc": {"S": _dumps(dict(summary))}}


def item_summary(item: Mapping[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(item["doc"]["S"])
    summary["name"] = item["sk"]["S"]
    return summary
