"""The shard queue's front door: an SQS batch of shard messages (Powertools batch processing).

Records run one after the other, each under its own deadline (its share of the time left when
it starts: all of it with the template's batch size 1), on the invocation's loop. Records that
fail are reported in ``batchItemFailures``: only they are delivered again, or moved to the
dead-letter queue after ``ShardMaxReceiveCount`` deliveries. Powertools' ``AsyncBatchProcessor``
is not used: it gathers the records in one loop and, on Lambda, runs them in a loop it never
closes.
"""

from __future__ import annotations

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
        try:
            return process_shard(record.body, invocation, clock)
        except Exception as exc:
            receives = record.attributes.approximate_receive_count
            logger.warning(
                "shard failed: the queue delivers it again (or moves it to the dead-letter queue)",
                extra={"message_id": record.message_id, "receive_count": receives, "error": repr(exc)},
            )
            metrics.add_metric(name="shard_failures", unit=MetricUnit.Count, value=1)
            raise

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=cast(Any, invocation.context)
    )
    return dict(response)
