"""The pure core: what a run is, decided without AWS, HTTP, Powertools or settings of its own.

Start here:

- ``engine.run_under_deadline``: the one bounded gather, every job ended by an absolute deadline.
- ``budget``: the invocation's clock (``InvocationClock``) and a run's deadline (``RunDeadline``).
- ``requests``: the request every way in accepts (``FanoutRequest``, ``TargetsRequest``,
  ``parse_request``), every option bounded, its parts (``UrlEntry``, ``Options``) in
  ``request_options``; ``limits`` (``RequestLimits``: the defaults and maxima
  a front door passes in, so the core reads no setting).
- ``documents``: the run document (``RunDocument``); ``results`` (``UrlResult``, ``Outcome``,
  ``Summary``) and ``facts`` (checks, timings, TLS, redirects, headers) are its parts.
- ``model.Document``: the base of every output document (msgspec): its one JSON form, its bytes,
  and its JSON Schema (the OpenAPI answers are generated from it).

The rest: ``expect`` (what a healthy response is, as a request gives it), ``checks`` (judging a
response by it) and ``json_values`` (a body's JSON as its ``json`` checks read it),
``thresholds`` (run thresholds),
``answers`` (fitting an answer in Lambda's response limit), ``records`` (what the runs table keeps
and ``GET /runs`` shows), ``targets`` (target lists), ``urls`` and ``ids``; monitors: ``monitor_spec``
(a request's ``monitor``), ``monitors`` (a subject's state and how an observation moves it),
``uptime`` (its bounded history),
``monitor_report`` (a document's ``monitor`` section), ``monitor_summary`` (the summary an update
writes), ``monitor_views`` (``GET /monitors``) and
``alerts`` (what an alert says), ``history`` (a URL's 400-day daily aggregates and incidents, one
record per month), ``routes`` (a monitor's alert routes: webhook, Slack,
PagerDuty), ``channels`` (what each route is sent), ``signing`` (Standard Webhooks signatures),
``sign_option`` (``options.sign``: signed fan-out deliveries), ``maintenance`` (maintenance
windows), ``hygiene`` (the alerts owed once windows, dependencies
and reminders count), ``regions`` (a monitor checked from several regions: the quorum, the
report a probe region sends home), ``rounds`` (its rounds: votes, the quorum's verdict, each
region's figures, region liveness) and ``regional`` (a regional monitor's subjects moved by rounds);
``fleet`` (a monitors file: its models and each monitor's request); ``secret_refs``
(``${secretsmanager:...}``/``${ssm:...}`` references, found and checked).
"""
