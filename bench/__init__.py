"""Benchmarks for fanout: ``make bench`` (``python -m bench``); see ``bench/__main__.py``."""
