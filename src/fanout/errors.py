"""The service's own exceptions, in one tree (after httpx's ``_exceptions``). No HTTP in them:
the front door maps each to a problem document or a typed invoke error in one table
(``fanout.entry.problems``).

::

    FanoutError                     base of everything the service raises on purpose
    ├── RequestInvalid              the request breaks the contract            422 validation-error
    │   ├── EntriesTooLarge         entries too large for a shard message
    │   ├── CursorInvalid           a listing cursor this API did not hand out
    │   ├── TargetsUnreadable       the S3 target list cannot be used          422 targets-unreadable
    │   └── IdempotencyKeyReused    the key came with another request          422
    ├── IdempotencyInProgress       the key's first request is still running   409
    ├── RunNotFound                 no such run (or expired)                   404
    ├── MonitorNotFound             no such monitor                            404
    ├── FeatureOff                  this deployment has the feature off        501
    │   ├── RunsNotKept             no runs table
    │   ├── ShardingOff             no shard queue, runs table or bucket
    │   └── MonitorsOff             no monitors table
    ├── ServiceUnavailable          a store the request needs failed            503
    │   ├── StoreUnavailable        reading runs back failed
    │   └── ShardsNotStarted        a sharded run could not be launched
    ├── StoreError                  one AWS call failed or ran out of its slice (``timed_out``)
    │   └── ShardsNotSent           the queue refused shard messages
    ├── ShardInvalid                a message that is not a shard of ours (-> its DLQ)
    ├── MergeError                  shards that do not cover their run (a bug)
    └── FetchError                  one URL has no usable response (-> that URL's ``error``)
        ├── ResponseTooLarge        body over ``max_body_bytes``          type "response_too_large"
        ├── RedirectLimit           more than ``max_redirects`` hops      type "too_many_redirects"
        ├── EgressBlocked           refused by the egress policy          outcome "blocked"
        ├── DnsError                no usable DNS answer                  type "DNSError"
        └── DnsTimeout              no DNS answer within the attempt      type "DNSTimeout", timed_out

Transport failures are httpx's own exceptions (``httpx.ConnectError``, ``httpx.ReadError``, ...);
the fetcher reports them by class name. ``asyncio.CancelledError`` is never caught as a failure.
"""

from __future__ import annotations

from typing import Any

MAX_LISTED_PROBLEMS = 100
"""Field-level problems an error lists at most; ``total`` counts them all. However bad a
request, its error stays small: 10,000 entries with 14 problems each would otherwise make
an error larger than Lambda's 6 MB response limit."""


class FanoutError(Exception):
    """Base class of the service's deliberate errors; ``detail`` says what happened."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RequestInvalid(FanoutError):
    """The request does not satisfy the contract; ``errors`` lists the first problems
    (at most ``MAX_LISTED_PROBLEMS``), ``total`` says how many there are."""

    def __init__(
        self, detail: str, errors: list[dict[str, Any]] | None = None, *, total: int | None = None
    ) -> None:
        super().__init__(detail)
        listed = errors or []
        self.errors = listed[:MAX_LISTED_PROBLEMS]
        self.total = len(listed) if total is None else total


class EntriesTooLarge(RequestInvalid):
    """Entries that cannot travel in a shard message, even alone."""


class CursorInvalid(RequestInvalid):
    """A listing cursor (``GET /runs``, ``/monitors``, ``/monitors/{name}``) this API did not hand out."""

    def __init__(self) -> None:
        super().__init__(
            "the cursor is not one this API handed out",
            [{"loc": "cursor", "msg": "unknown cursor", "type": "cursor_invalid"}],
        )


class TargetsUnreadable(RequestInvalid):
    """The target list at ``uri`` cannot be used (unreadable, not a list, invalid entries)."""

    def __init__(
        self, uri: str, reason: str, errors: list[dict[str, Any]] | None = None, *, total: int | None = None
    ) -> None:
        super().__init__(f"{uri}: {reason}", errors, total=total)
        self.uri = uri


class IdempotencyKeyReused(RequestInvalid):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request body")


class IdempotencyInProgress(FanoutError):
    def __init__(self) -> None:
        super().__init__("a request with this idempotency key is still running; retry when it has finished")


class RunNotFound(FanoutError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run {run_id!r} is on record (or it has expired)")


class MonitorNotFound(FanoutError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no monitor {name!r} has run here (or its state has expired)")


class FeatureOff(FanoutError):
    """This deployment has the feature the request needs turned off."""


class RunsNotKept(FeatureOff):
    def __init__(self, what: str) -> None:
        super().__init__(f"this deployment keeps no {what}: its store is off (docs/persistence.md)")


class ShardingOff(FeatureOff):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} needs sharded runs, and this deployment has no shard queue, runs table or reports "
            "bucket (docs/sharding.md)"
        )


class MonitorsOff(FeatureOff):
    def __init__(self, what: str = "monitors") -> None:
        super().__init__(f"{what} need the monitors table, and this deployment has none (docs/monitors.md)")


class ServiceUnavailable(FanoutError):
    """A store the request needs failed; ``retry_after_s`` says when to try again."""

    retry_after_s = 1


class StoreUnavailable(ServiceUnavailable):
    pass


class ShardsNotStarted(ServiceUnavailable):
    retry_after_s = 5


class StoreError(FanoutError):
    """An AWS call failed or ran out of its slice; ``timed_out`` tells which."""

    def __init__(self, detail: str, *, error_type: str, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.timed_out = timed_out


class ShardsNotSent(StoreError):
    """The queue refused some shard messages after every attempt."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error_type="ShardsNotSent")


class ShardInvalid(FanoutError):
    """A message that is not a shard of ours: it fails every delivery and ends in the DLQ."""


class MergeError(FanoutError):
    """The shards' results do not cover the run's input exactly once (a bug, never expected)."""


class FetchError(FanoutError):
    """One URL failed in a way the service itself detected; ``type`` is stable."""

    type = "fetch_error"


class ResponseTooLarge(FetchError):
    type = "response_too_large"


class RedirectLimit(FetchError):
    type = "too_many_redirects"


class EgressBlocked(FetchError):
    """The egress policy refused the destination; ``reason`` is machine-readable."""

    type = "egress_blocked"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DnsError(FetchError):
    """The host name has no usable answer (no such name, SERVFAIL, ...); ``temporary``: a retry
    may help."""

    type = "DNSError"

    def __init__(self, message: str, *, temporary: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary


class DnsTimeout(FetchError):
    """No DNS answer came within the attempt's time (``request_timeout_s``)."""

    type = "DNSTimeout"
