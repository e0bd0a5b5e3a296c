"""The queues' front door: an SQS batch of shard messages, or of region reports (the home region's
reports queue: each applied to its monitor's states, ``fanout.runs.region_home``), with
Powertools batch processing.

Records run one after the other, each under its own deadline (its share of the time left when
it starts: all of it with the template's batch size 1), on the invocation's loop. Records that
fail are reported in ``batchItemFailures``: only they are delivered again, or moved to the
dead-letter queue after ``ShardMaxReceiveCount`` deliveries. Powertools' ``AsyncBatchProcessor``
is not used: it gathers the records in one loop and, on Lambda, runs them in a loop it never
closes.
"""

from __future__ import annotations

import json
from typing import Any, cast

from fanout.observability.log import MetricUnit, logger, metrics
from fanout.runs.invocation import Invocation
from fanout.runs.shards.process import process_shard


def consume(event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
    """Process an SQS batch of shards; failed records are reported (``batchItemFailures``)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    left = len(event.get("Records") or ())

    def record_handler(record: SQSRecord) -> str:
        nonlocal left
        share, left = max(left, 1), left - 1
        clock = invocation.clock.share(share)
        report = _is_region_report(record.body)
        try:
            if report:
                from fanout.runs.region_home import apply_report_record  # a reports queue's only

                return apply_report_record(record.body, invocation, clock)
            return process_shard(record.body, invocation, clock)
        except Exception as exc:
            receives = record.attributes.approximate_receive_count
            what = "region report" if report else "shard"
            logger.warning(
                f"{what} failed: the queue delivers it again (or moves it to the dead-letter queue)",
                extra={"message_id": record.message_id, "receive_count": receives, "error": repr(exc)},
            )
            name = "region_report_failures" if report else "shard_failures"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            raise

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=cast(Any, invocation.context)
    )
    return dict(response)


def _is_region_report(body: str) -> bool:
    """A queue message that is a region report (not a shard): its ``kind``."""
    if "region_report" not in body:  # a shard's body, without parsing it twice
        return False
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("kind") == "region_report"
