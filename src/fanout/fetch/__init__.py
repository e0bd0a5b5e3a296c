"""Fetching: one URL entry with httpx, under a whole-attempt timeout and the egress guard.

Start here:

- ``client.build_client``: the run's client (``FanoutClient``), made in the run's loop.
- ``fetcher.Fetcher``: one entry, its attempts and safe retries, one ``FetchResult``.
- ``egress`` (``policy.EgressPolicy``, ``policy.policy_for``): where a run may connect.

Under them: ``attempt`` (one attempt's hops under its timeout), ``wire`` (how one hop is sent:
``Wire``, ``Hop``), ``transports`` (aiohttp, the
default; httpcore), ``redirects`` (the next hop's request), ``verdict`` (a final response judged
into an outcome), ``body`` (the first bytes of a body, decoded for the checks), ``trace`` (an
attempt's phases), ``dns`` (c-ares on the run's loop, no thread), ``sitemap`` (sitemaps read as
target lists), ``pacing`` (each host's turn: a rate, the pauses a ``Retry-After`` asks for),
``failures`` (what each exception of an attempt means: outcome, error, retry), ``delivery`` (one
alert POSTed through the guard, retried with backoff) and ``compat`` (the only place third-party
internals are used, one module per library, each hook tested).
"""
