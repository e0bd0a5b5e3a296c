"""Third-party internals in one place: each hook a small named function over one private
attribute of a library the fetcher runs on, used only where no public API gives the same result.

Each hook says which version it was checked against and why no public API serves; the unit
tests (``tests/unit/fetch/test_compat_hooks.py``) fail naming the hook and the version when an
upgrade moves what it relies on. Nothing outside this package reaches into aiohttp, aiodns or
pycares by a private name.
"""
