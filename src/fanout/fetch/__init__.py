"""Fetching: one URL with httpx under a whole-attempt timeout (``fetcher``, ``redirects``), the
egress guard (``egress``), name resolution on the run's loop (``dns``), the run's client
(``client``) and the transports under it (``transports``: aiohttp, httpcore)."""
