"""Orchestration: what happens to a request, between the front doors and the adapters.

Start here: ``service`` is all the front doors call (``run_request``, ``read_run``,
``list_runs``, ``list_monitors``, ``read_monitor``), each inside an ``invocation.Invocation``
(the invocation's clock, settings and one event loop).

The steps of a run: ``keyed`` (once per idempotency key), ``inline.run`` (a run in this
invocation, in order: ``targets``, ``fanout``, ``judging`` (thresholds, and ``monitor``: the
monitor's update, by a ``monitor_run``'s observations), ``persist``, ``answers``),
``fetch_run.fetch_run`` (one fan-out: the engine over the fetcher, one ``url_jobs.UrlJob`` per
URL), ``stores`` (which stores a
deployment has, their adapters), ``report`` (logs and metrics of runs and shards) and ``shards``
(sharded runs over SQS). Reading back: ``readback`` (``GET /runs``) and ``monitors_read``
(``GET /monitors``); ``outgoing``: the entries as sent (``options.headers`` merged, secret
references resolved), never stored; ``alerting``: a monitor's own alert routes (webhook, Slack,
PagerDuty) sent, their secrets read at send time; ``alert_sends``: a monitor run's alerts sent,
a storm as one grouped alert; ``history``: a monitor run's long-history writes;
``status_page``: the status page rendered and uploaded inside a monitor run, or by
``fanout status build``; ``region_home``: a regional monitor's region reports applied in its
home region (its own run's, and the reports queue's); ``region_probe``: a probe region's report
sent home in one call, with its outbox; ``regional_run``: a regional monitor's run, applied
home or sent there.
"""
