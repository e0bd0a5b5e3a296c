"""Logs, metrics and traces, for the layers above the core.

``log`` (the module-level Powertools ``logger`` and ``metrics``), ``redact.redact_url`` (URLs
without their secrets, as logs and traces show them) and ``tracing`` (X-Ray: ``run_trace``, a
subsegment per run and per URL, safe under concurrency; the Tracer built only when tracing is on).
"""
