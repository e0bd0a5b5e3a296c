"""The ``fanout`` command line (docs/cli.md): the service's engine here, and its ways in there.

- ``main``: the group (``cli``) and the console script's entry point (``main``); ``errors``: exit
  statuses and the one place errors become them; ``params``: shared options; ``inputs``: request
  files and sitemaps.
- ``run_command`` + ``local``: ``fanout run``, the fan-out in this process.
- ``remote_commands`` + ``remote`` + ``api``: ``fanout invoke`` and ``fanout runs``, the
  deployed function (Lambda's Invoke API) and its HTTP API.
- ``rows``, ``table``, ``formats``: every output format; ``progress``: the bars on a terminal.
- ``monitors_commands``: ``fanout monitors validate|plan|apply``; ``monitors_file`` reads monitors
  files (``yaml_marks``: where each node was written), ``schedules`` plans the schedules and
  ``schedule_apply`` reads and changes them in EventBridge Scheduler; ``region_plans``: a
  regional monitor's schedules, one in each of its regions.
- ``status_commands``: ``fanout status build``, the status page from the monitors table.

It is a front door like ``fanout.handler``: it may use every layer below (never the handler).
"""
