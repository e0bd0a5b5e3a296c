"""Sharded runs over SQS: the pure part (``plan``: modes, messages; ``outcome``: leftovers, the
merge) and the AWS part (``launch``, ``process``, ``complete``)."""
