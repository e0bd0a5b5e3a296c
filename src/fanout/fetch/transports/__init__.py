"""httpx transports, one per file behind ``base``: ``aiohttp`` (the default) and ``httpcore``
(httpx's stock transport, imported only when chosen)."""
