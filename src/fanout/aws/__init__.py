"""AWS adapters, and nothing else: no orchestration, no logs, no metrics.

``session`` (clients made in the invocation's loop, every call bounded), ``reports`` (S3 reports
and target lists), ``runs_table`` and ``codec`` (DynamoDB run records), ``shard_queue`` (SQS),
``idempotency`` (Powertools' idempotency, its calls on the invocation's loop).
"""
