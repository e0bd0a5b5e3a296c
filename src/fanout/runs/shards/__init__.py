"""Sharded runs over SQS: the pure part (``plan``: modes, messages; ``outcome``: leftovers, the
merge) and the AWS part (``launch``, ``process``, ``complete``; ``gather``: a generation's
leftovers gathered into one continuation; ``carry``: an inline run's leftovers carried over as a
sharded continuation)."""
