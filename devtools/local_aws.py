"""An embedded AWS for local runs and tests: moto in server mode on 127.0.0.1.

``with LocalAws() as aws:`` starts ``ThreadedMotoServer`` on a free loopback port and
creates the stack's report bucket and tables from template.yaml's own definitions
(``table_kwargs``, ``create_bucket_from_template``) and its shard queue and dead-letter queue
(``create_queue_from_template``), so local runs and tests use the key design and the
queue settings the stack deploys and cannot drift from them. ``aws.function_env()`` is the
environment that points the function at it (``AWS_ENDPOINT_URL``: moto's in-process
mock patches botocore's synchronous HTTP layer only, not aiobotocore's aiohttp one).

Used by ``make demo STORE=moto`` and the persistence tests; needs the dev dependencies
(``moto[server]``, ``aws-sam-cli`` for the template parser). The resources are made in
``devtools.local_aws_template``; the names callers use are importable from here as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from devtools.local_aws_template import DEPLOY_ONLY_TABLE_KEYS as DEPLOY_ONLY_TABLE_KEYS
from devtools.local_aws_template import QUEUE_ATTRIBUTES as QUEUE_ATTRIBUTES
from devtools.local_aws_template import ROOT as ROOT
from devtools.local_aws_template import TEMPLATE as TEMPLATE
from devtools.local_aws_template import Resources as Resources
from devtools.local_aws_template import TemplateResources
from devtools.local_aws_template import load_template as load_template
from devtools.local_aws_template import resolve_ref as resolve_ref
from devtools.local_aws_template import table_kwargs as table_kwargs
from devtools.moto_compat import patch_moto_dynamodb, stop_server

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class LocalAws(TemplateResources):
    """``with LocalAws() as aws:`` moto on 127.0.0.1 with the template's bucket and tables."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
        self.endpoint = ""
        self._clients: list[Any] = []

    def __enter__(self) -> LocalAws:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        patch_moto_dynamodb()
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.resources = self.create_from_template(load_template())
        return self

    def __exit__(self, *exc: object) -> None:
        self._delete_tables()
        for client in self._clients:
            client.close()
        stop_server(self.server)

    def _delete_tables(self) -> None:
        """moto's backends are process-wide: a server stopped keeps its tables in memory (and a big
        one slows every garbage collection after it). Its own tables go with it."""
        resources = getattr(self, "resources", None)
        if resources is None:
            return
        ddb = self.client("dynamodb")
        for table in (resources.runs_table, resources.idempotency_table, resources.monitors_table):
            with contextlib.suppress(ddb.exceptions.ResourceNotFoundException):
                ddb.delete_table(TableName=table)

    def client(self, service: str, region: str = "") -> Any:
        """A synchronous boto3 client on moto (closed with the server), in ``region`` (one moto
        server serves every region: it reads the region from each request's signature)."""
        client = boto3.session.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region or CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
        self._clients.append(client)
        return client

    def alert_inbox(self) -> str:
        """A new queue subscribed to the alert topic (the SNS envelope as each message); its URL."""
        sqs = self.client("sqs")
        url: str = sqs.create_queue(QueueName=f"alert-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        self.client("sns").subscribe(
            TopicArn=self.resources.alert_topic_arn, Protocol="sqs", Endpoint=self.queue_arn(url)
        )
        return url

    def event_inbox(self) -> str:
        """A new queue that a rule on the alert bus feeds with every fanout event; its URL."""
        sqs, events = self.client("sqs"), self.client("events")
        name = f"event-inbox-{uuid.uuid4().hex[:8]}"
        url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
        bus = self.resources.alert_event_bus
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["fanout"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "inbox", "Arn": self.queue_arn(url)}])
        return url

    def received(self, queue_url: str, *, wait_s: int = 1, region: str = "") -> list[dict[str, Any]]:
        """Every message waiting in ``queue_url`` (bounded), bodies parsed, deleted as read."""
        sqs = self.client("sqs", region)
        found: list[dict[str, Any]] = []
        for _ in range(50):
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
            messages = batch.get("Messages", [])
            if not messages:
                return found
            for m in messages:
                found.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            wait_s = 0
        return found

    def function_env(self) -> dict[str, str]:
        """The environment of a function that uses these stores (as the template sets it)."""
        return {
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "REPORTS_BUCKET_NAME": self.resources.bucket,
            "RUNS_TABLE_NAME": self.resources.runs_table,
            "IDEMPOTENCY_TABLE_NAME": self.resources.idempotency_table,
            "SHARD_QUEUE_URL": self.resources.shard_queue_url,
            "MONITORS_TABLE_NAME": self.resources.monitors_table,
            "ALERT_TOPIC_ARN": self.resources.alert_topic_arn,
            "ALERT_EVENT_BUS_NAME": self.resources.alert_event_bus,
        }

    def describe(self, document: dict[str, Any]) -> str:
        """Where a run's report and record went, checked against the stores."""
        persisted = document.get("persisted") or {}
        report, record = persisted.get("report") or {}, persisted.get("record") or {}
        lines = []
        if report.get("status") == "stored":
            head = self.client("s3").head_object(Bucket=report["bucket"], Key=report["key"])
            lines.append(
                f"report    s3://{report['bucket']}/{report['key']} "
                f"({head['ContentLength']:,} bytes, {head.get('ContentEncoding', 'identity')} JSON)"
            )
        else:
            lines.append(
                f"report    {report.get('status', 'off')}: {(report.get('error') or {}).get('message', '')}"
            )
        if record.get("status") == "stored":
            item = self.client("dynamodb").get_item(
                TableName=record["table"], Key={"run_id": {"S": str(document.get("run_id"))}}
            )
            found = "found" if "Item" in item else "NOT found"
            lines.append(f"record    {record['table']} run_id={document.get('run_id')} ({found})")
        else:
            lines.append(
                f"record    {record.get('status', 'off')}: {(record.get('error') or {}).get('message', '')}"
            )
        lines.append(f"          (moto on {self.endpoint}, gone when the demo exits)")
        return "\n".join(lines)


def main() -> None:  # pragma: no cover - a developer tool (scripts/sam-api.sh, STORE=moto)
    """Serve moto with the template's resources until killed; write ``sam local``'s env-vars file."""
    import argparse
    import threading

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--env-file", required=True)
    args = parser.parse_args()
    with LocalAws(host=args.host) as aws:
        env = aws.function_env() | {"FANOUT_AWS_ENDPOINT_URL": aws.endpoint}
        Path(args.env_file).write_text(json.dumps({"FanoutFunction": env}))
        print(
            f"moto on {aws.endpoint}: bucket {aws.resources.bucket}, table {aws.resources.runs_table}",
            flush=True,
        )
        threading.Event().wait()


if __name__ == "__main__":
    main()
