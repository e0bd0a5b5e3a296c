"""Where monitor alerts go: the SNS topic (``ALERT_TOPIC_ARN``) and the EventBridge bus
(``ALERT_EVENT_BUS_NAME``), each optional. One alert is one SNS message (subject, JSON body,
attributes ``monitor`` and ``to`` for subscription filters) and one event (``source`` ``fanout``,
``detail-type`` ``Monitor status changed``, the same body as its detail). Every call is bounded by
the caller's slice (``AwsClients.call``); what this module does not do is decide what to send.
"""

from __future__ import annotations

from collections.abc import Mapping

from fanout.aws.session import AwsClients
from fanout.core.model import Document
from fanout.errors import StoreError

EVENT_SOURCE = "fanout"
EVENT_DETAIL_TYPE = "Monitor status changed"
SUBJECT_CHARS = 100  # SNS's limit


def _clip_subject(subject: str) -> str:
    """SNS subjects: at most 100 printable ASCII characters, no line breaks."""
    text = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)
    return text if len(text) <= SUBJECT_CHARS else text[: SUBJECT_CHARS - 3] + "..."


class AlertSinks:
    """The deployment's alert targets (either may be off)."""

    def __init__(self, clients: AwsClients, *, topic_arn: str, bus_name: str) -> None:
        self._clients = clients
        self.topic_arn = topic_arn
        self.bus_name = bus_name

    @property
    def targets(self) -> frozenset[str]:
        """The targets that are on: ``sns``, ``events``."""
        return frozenset(t for t, on in (("sns", self.topic_arn), ("events", self.bus_name)) if on)

    async def send(
        self,
        subject: str,
        message: Document,
        attributes: Mapping[str, str],
        before: float,
        *,
        targets: frozenset[str],
    ) -> tuple[frozenset[str], StoreError | None]:
        """Publish one alert to each of ``targets``; those that took it, and the first failure."""
        body = message.to_bytes().decode()
        done: set[str] = set()
        for target in sorted(targets & self.targets, reverse=True):  # sns, then events
            try:
                if target == "sns":
                    await self._publish(_clip_subject(subject), body, attributes, before)
                else:
                    await self._put_event(body, before)
            except StoreError as exc:
                return frozenset(done), exc
            done.add(target)
        return frozenset(done), None

    async def _publish(self, subject: str, body: str, attributes: Mapping[str, str], before: float) -> None:
        async def publish() -> None:
            sns = await self._clients.client("sns")
            await sns.publish(
                TopicArn=self.topic_arn,
                Subject=subject,
                Message=body,
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )

        await self._clients.call("alert topic", before, publish)

    async def _put_event(self, body: str, before: float) -> None:
        async def put() -> None:
            events = await self._clients.client("events")
            response = await events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": EVENT_DETAIL_TYPE,
                        "Detail": body,
                        "EventBusName": self.bus_name,
                    }
                ]
            )
            if response.get("FailedEntryCount"):
                entry = (response.get("Entries") or [{}])[0]
                raise RuntimeError(f"event refused: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")

        await self._clients.call("alert event", before, put)
