"""One module per scenario: ``run(cfg, target)`` in the parent, ``work(variant, spec)`` in a worker."""
