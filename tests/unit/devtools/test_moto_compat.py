"""Each hook of ``devtools.moto_compat`` against the installed moto (in server mode on 127.0.0.1)."""

from __future__ import annotations

import copy
import socket
from importlib.metadata import version

import pytest

from devtools import moto_compat
from devtools.moto_compat import patch_moto_dynamodb, stop_server


def require(owner: object, attribute: str, hook: str) -> None:
    name = owner.__name__ if isinstance(owner, type) else type(owner).__name__
    assert hasattr(owner, attribute), (
        f"compat hook moto_compat.{hook} (checked against {moto_compat.CHECKED_AGAINST}) relies on "
        f"{name}.{attribute}, which moto {version('moto')} does not have: re-check the hook"
    )


def test_stop_server_closes_the_listening_socket() -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    require(server, "_server", "stop_server")
    host, port = server.get_host_and_port()
    stop_server(server)
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect((host, port))  # nothing listens any more


def test_patch_moto_dynamodb_finds_what_it_replaces() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    require(DynamoHandler, "call_action", "patch_moto_dynamodb")
    require(models, "copy", "patch_moto_dynamodb")
    require(Table, "instances_tracked", "patch_moto_dynamodb")
    patch_moto_dynamodb()
    patch_moto_dynamodb()  # idempotent
    assert getattr(DynamoHandler.call_action, "_serialized", False)
    rollback = models.copy
    assert rollback is not copy
    assert rollback.copy is copy.copy  # everything else is the copy module's
    assert rollback.deepcopy([{"a": 1}]) == [{"a": 1}]
