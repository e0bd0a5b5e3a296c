"""Sharded runs over SQS: the pure part (``plan``: modes, messages; ``outcome``: leftovers, the
merge) and the AWS part (``launch``, ``process``, ``complete``; ``carry``: an inline run's
leftovers carried over as a sharded continuation)."""
