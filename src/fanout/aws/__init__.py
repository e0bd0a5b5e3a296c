"""AWS adapters, and nothing else: no orchestration, no logs, no metrics.

``session.AwsClients`` makes an invocation's clients in its loop and bounds every call; each
store is one module over it:

- ``reports.Reports``: S3 run reports, shard outcomes, presigned links, target lists.
- ``runs_table.RunsTable``: DynamoDB run records (items by ``codec``).
- ``monitors_table.MonitorsTable``: monitor states and summaries (items by ``monitor_codec``);
  ``monitor_dependencies``: which of a monitor's ``depends_on`` are down.
- ``history_table.HistoryTable``: URLs' long history (month items of the monitors table).
- ``status_site``: the status page's render claim and its bucket (``SiteBucket``).
- ``shard_queue.ShardQueue``: the SQS shard queue.
- ``alerts.AlertSinks``: the SNS topic and EventBridge bus monitor alerts go to.
- ``idempotency.run_once``: Powertools' idempotency, its calls on the invocation's loop.
- ``cursors.ListingCursor``: the one cursor codec of every listing.
- ``secrets``: the values of secret references (Secrets Manager, SSM), cached briefly.
- ``region_queues.RegionQueues``: a probe region's reports sent to the home region's queue, and
  its outbox.
"""
