"""moto's internals the local AWS relies on (checked against moto 5.2.5), in one place.

- ``patch_moto_dynamodb``: moto's DynamoDB made to serve this project's transactions. It wraps
  ``DynamoHandler.call_action`` (every DynamoDB request) and replaces the ``copy`` module that
  ``moto.dynamodb.models`` rolls transactions back with; moto has no option for either.
- ``stop_server``: ``ThreadedMotoServer.stop()`` shuts its werkzeug server down but leaves the
  listening socket open (one file descriptor per server, a ``ResourceWarning`` at exit); only its
  private ``_server`` can close it.

``tests/unit/devtools/test_moto_compat.py`` fails naming the hook and this version when an
upgrade moves what a hook relies on.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.server import ThreadedMotoServer

CHECKED_AGAINST = "moto 5.2.5"

_DYNAMODB_LOCK = threading.Lock()


def _table_for_rollback(table: Any) -> Any:
    """A copy of a moto table that a transaction of ``Put`` actions can be rolled back to: its
    items' containers copied, the items shared (a ``Put`` replaces an item, never changes it)."""
    from collections import defaultdict

    copied = copy.copy(table)
    copied.items = defaultdict(
        dict, {h: dict(r) if isinstance(r, dict) else r for h, r in table.items.items()}
    )
    tracked = type(table).instances_tracked  # moto keeps every model it makes; not these copies
    if tracked and tracked[-1] is copied:
        tracked.pop()
    return copied


def patch_moto_dynamodb() -> None:
    """moto's DynamoDB, made to serve this project's transactions (idempotent).

    moto 5's ``transact_write_items`` deep-copies every table it touches, to roll back: with no
    lock (another request writing meanwhile breaks the copy, "dictionary changed size during
    iteration"), at a cost that grows with the table (a 100-item transaction takes 1 s once the
    table has 600 items, 10 s at 5,000: quadratic over a monitor's first run), and keeps every copy
    alive (its models track their instances), so garbage collections slow down for the rest of the
    process. DynamoDB is none of that. So the harness answers DynamoDB requests one at a time and
    copies a table for rollback one level deep, untracked; the project's transactions are ``Put``
    actions only, for which that copy restores exactly what the deep one would.
    """
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    class RollbackCopy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return _table_for_rollback(value) if isinstance(value, Table) else copy.deepcopy(value, memo)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    setattr(models, "copy", RollbackCopy())  # noqa: B010 (the module's own name for copy)


def stop_server(server: ThreadedMotoServer) -> None:
    """Stop ``server`` and close its listening socket (``stop()`` alone keeps it open)."""
    server.stop()
    if server._server is not None:
        server._server.server_close()
