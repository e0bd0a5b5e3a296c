"""aiodns's internals the resolver relies on (checked against aiodns 4.0.4 on pycares 5.2.1).

aiodns 4 makes its pycares channel with an event thread (pycares 5's default) and falls back
to socket-state callbacks on the loop's selector only when the thread cannot be had; its
constructor drops a ``sock_state_cb`` argument, and no argument chooses the mode. The
service wants no thread in an invocation (``fetch.dns``), so ``LoopDrivenResolver`` overrides
the channel's making (``_make_channel``) to take the fallback's path always, handing c-ares'
socket events to aiodns's own handler (``_sock_state_cb``), which watches the descriptors with
the running loop's ``add_reader``/``add_writer`` and runs c-ares' timers.
"""

from __future__ import annotations

import weakref
from typing import Any

import aiodns
import pycares

CHECKED_AGAINST = "aiodns 4.0.4, pycares 5.2.1"


class LoopDrivenResolver(aiodns.DNSResolver):
    """aiodns on the running loop's selector (socket-state callbacks), never its event thread."""

    def _make_channel(self, **kwargs: Any) -> tuple[bool, pycares.Channel]:
        # (False: "no event thread", the channel) as aiodns's fallback returns them.
        weak_self = weakref.ref(self)  # no cycle resolver -> channel -> callback -> resolver

        def on_socket_state(fd: int, readable: bool, writable: bool) -> None:
            this = weak_self()
            if this is not None:
                this._sock_state_cb(fd, readable, writable)

        return False, pycares.Channel(sock_state_cb=on_socket_state, timeout=self._timeout, **kwargs)
