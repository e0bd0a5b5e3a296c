"""The front doors, one module per event source: ``router`` (which way in), ``direct``,
``schedule``, ``api`` (the HTTP API), ``sqs`` (the shard queue); ``problems`` (the one table from
domain errors to problem+json and typed invoke errors) and ``snapstart``."""
