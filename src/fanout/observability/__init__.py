"""Logs, metrics and traces: ``log`` (the module-level Powertools logger and metrics),
``redact`` (URLs without secrets) and ``tracing`` (X-Ray, safe under concurrency)."""
