"""Orchestration: what happens to a request, between the front doors and the adapters.

``service`` is what the front doors call. ``invocation`` (the invocation's loop), ``fanout`` (one
fan-out: engine and fetcher), ``inline`` (an inline run: targets, fan-out, persistence, fitting),
``persist``, ``targets``, ``keyed`` (idempotency), ``readback`` (GET /runs), ``report`` (logs and
metrics of runs and shards) and ``shards`` (sharded runs).
"""
