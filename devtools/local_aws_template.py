"""The template's resources, made on moto: the key design and queue settings the stack deploys.

Read from template.yaml's own definitions (``table_kwargs``, ``create_bucket_from_template``,
``create_queue_from_template``) so local runs and tests cannot drift from the stack. Apart from
the server's lifecycle (``devtools.local_aws``, whose ``LocalAws`` takes these methods from
``TemplateResources``): what to create is a job of its own, whatever serves it.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# Table properties that only matter to a deployed table (moto has no use for them).
DEPLOY_ONLY_TABLE_KEYS = frozenset({"PointInTimeRecoverySpecification"})


def load_template() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    return template


def resolve_ref(template: dict[str, Any], value: Any, parameters: dict[str, Any] | None = None) -> Any:
    """A ``{"Ref": Parameter}`` becomes the parameter's value (``parameters``, else its default),
    a ``{"Fn::Sub": "...${Parameter}..."}`` the text with those values; anything else is itself."""
    given = parameters or {}

    def value_of(name: str) -> Any:
        return given[name] if name in given else template["Parameters"][name]["Default"]

    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value_of(value["Ref"])
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: str(value_of(m.group(1))), value["Fn::Sub"])
    return value


def table_kwargs(
    template: dict[str, Any], logical_id: str, name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``create_table`` kwargs and the ``update_time_to_live`` spec of a template table."""
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    props = dict(resource["Properties"])
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props.pop("KeySchema"),
        "AttributeDefinitions": props.pop("AttributeDefinitions"),
        "BillingMode": props.pop("BillingMode"),
    }
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props.pop("GlobalSecondaryIndexes")
    if "SSESpecification" in props:
        kwargs["SSESpecification"] = {"Enabled": props.pop("SSESpecification")["SSEEnabled"]}
    ttl = props.pop("TimeToLiveSpecification", None)
    unknown = set(props) - DEPLOY_ONLY_TABLE_KEYS
    assert not unknown, f"teach table_kwargs about {sorted(unknown)} of {logical_id}"
    ttl_spec = {"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]} if ttl else {}
    return kwargs, ttl_spec


# Queue properties and the SQS attribute each one is (moto takes them all).
QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
}


@dataclass(frozen=True)
class Resources:
    bucket: str
    runs_table: str
    idempotency_table: str
    shard_queue_url: str = ""
    shard_dead_letter_queue_url: str = ""
    monitors_table: str = ""
    alert_topic_arn: str = ""
    alert_event_bus: str = ""
    schedule_group: str = ""
    scheduler_role_arn: str = ""
    schedule_dead_letter_queue_url: str = ""
    status_bucket: str = ""
    region_reports_queue_url: str = ""
    region_outbox_queue_url: str = ""


class TemplateResources:
    """Creates the template's resources through ``client()`` (``LocalAws`` gives it moto's)."""

    def client(self, service: str, region: str = "") -> Any:
        raise NotImplementedError

    def create_from_template(self, template: dict[str, Any]) -> Resources:
        suffix = uuid.uuid4().hex[:8]
        dead_letters = self.create_queue_from_template(
            template, "ShardDeadLetterQueue", f"fanout-shards-dlq-{suffix}"
        )
        resources = Resources(
            bucket=f"fanout-reports-{suffix}",
            runs_table=f"fanout-runs-{suffix}",
            idempotency_table=f"fanout-idempotency-{suffix}",
            shard_queue_url=self.create_queue_from_template(
                template,
                "ShardQueue",
                f"fanout-shards-{suffix}",
                arns={"ShardDeadLetterQueue": self.queue_arn(dead_letters)},
            ),
            shard_dead_letter_queue_url=dead_letters,
            monitors_table=f"fanout-monitors-{suffix}",
            alert_topic_arn=self.create_topic_from_template(
                template, "AlertTopic", f"fanout-alerts-{suffix}"
            ),
            alert_event_bus=f"fanout-alerts-{suffix}",
            status_bucket=f"fanout-status-{suffix}",
        )
        resources = self.create_monitor_scheduling(template, resources, suffix)
        resources = self.create_region_queues(template, resources, suffix)
        self.client("events").create_event_bus(Name=resources.alert_event_bus)
        self.create_bucket_from_template(template, "ReportsBucket", resources.bucket)
        self.create_bucket_from_template(template, "StatusPageBucket", resources.status_bucket)
        ddb = self.client("dynamodb")
        for logical_id, name in (
            ("RunsTable", resources.runs_table),
            ("IdempotencyTable", resources.idempotency_table),
            ("MonitorsTable", resources.monitors_table),
        ):
            kwargs, ttl = table_kwargs(template, logical_id, name)
            ddb.create_table(**kwargs)
            if ttl:
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        return resources

    def create_monitor_scheduling(
        self, template: dict[str, Any], resources: Resources, suffix: str
    ) -> Resources:
        """The schedule group, the scheduler's role and the schedules' dead-letter queue of the
        template (``fanout monitors apply``)."""
        group = template["Resources"]["MonitorScheduleGroup"]
        assert group["Type"] == "AWS::Scheduler::ScheduleGroup"
        assert not group.get("Properties"), "teach create_monitor_scheduling about the group's properties"
        name = f"fanout-monitors-{suffix}"
        self.client("scheduler").create_schedule_group(Name=name)
        role = template["Resources"]["MonitorSchedulerRole"]
        assert role["Type"] == "AWS::IAM::Role"
        trust = json.dumps(role["Properties"]["AssumeRolePolicyDocument"]).replace(
            '{"Ref": "AWS::AccountId"}', '"123456789012"'
        )
        created = self.client("iam").create_role(
            RoleName=f"fanout-scheduler-{suffix}", AssumeRolePolicyDocument=trust
        )
        dead_letters = self.create_queue_from_template(
            template, "ScheduleDeadLetterQueue", f"fanout-schedules-dlq-{suffix}"
        )
        return replace(
            resources,
            schedule_group=name,
            scheduler_role_arn=str(created["Role"]["Arn"]),
            schedule_dead_letter_queue_url=dead_letters,
        )

    def create_region_queues(
        self, template: dict[str, Any], resources: Resources, suffix: str, region: str = ""
    ) -> Resources:
        """The regional monitors' queues of the template (in ``region``): the reports queue (with
        its dead-letter queue) a home region reads, and the outbox a probe region keeps."""
        dead_letters = self.create_queue_from_template(
            template, "RegionReportsDeadLetterQueue", f"fanout-region-reports-dlq-{suffix}", region=region
        )
        reports = self.create_queue_from_template(
            template,
            "RegionReportsQueue",
            f"fanout-region-reports-{suffix}",
            arns={"RegionReportsDeadLetterQueue": self.queue_arn(dead_letters, region)},
            region=region,
        )
        outbox = self.create_queue_from_template(
            template, "RegionOutboxQueue", f"fanout-region-outbox-{suffix}", region=region
        )
        return replace(resources, region_reports_queue_url=reports, region_outbox_queue_url=outbox)

    def create_topic_from_template(self, template: dict[str, Any], logical_id: str, name: str) -> str:
        """A topic with the template topic's attributes; its ARN."""
        resource = template["Resources"][logical_id]
        assert resource["Type"] == "AWS::SNS::Topic"
        props = dict(resource["Properties"])
        attributes = {key: str(props.pop(key)) for key in ("DisplayName", "KmsMasterKeyId") if key in props}
        assert not props, f"teach create_topic_from_template about {sorted(props)} of {logical_id}"
        arn: str = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return arn

    def create_bucket_from_template(self, template: dict[str, Any], logical_id: str, name: str) -> None:
        props = template["Resources"][logical_id]["Properties"]
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        encryption = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                "BucketKeyEnabled": rule.get("BucketKeyEnabled", False),
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": encryption})
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
        rules = []
        for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
            rules.append(
                {
                    "ID": rule["Id"],
                    "Status": rule["Status"],
                    "Filter": {"Prefix": rule["Prefix"]},
                    "Expiration": {"Days": int(resolve_ref(template, rule["ExpirationInDays"]))},
                }
            )
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})

    def create_queue_from_template(
        self,
        template: dict[str, Any],
        logical_id: str,
        name: str,
        *,
        arns: dict[str, str] | None = None,
        parameters: dict[str, Any] | None = None,
        region: str = "",
    ) -> str:
        """A queue with the template queue's attributes (``!GetAtt X.Arn`` from ``arns``); its URL."""
        resource = template["Resources"][logical_id]
        assert resource["Type"] == "AWS::SQS::Queue"
        props = dict(resource["Properties"])
        attributes: dict[str, str] = {}
        for key, attribute in QUEUE_ATTRIBUTES.items():
            if key in props:
                value = resolve_ref(template, props.pop(key), parameters)
                attributes[attribute] = str(value).lower() if isinstance(value, bool) else str(value)
        redrive = props.pop("RedrivePolicy", None)
        if redrive is not None:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": (arns or {})[target],
                    "maxReceiveCount": int(resolve_ref(template, redrive["maxReceiveCount"], parameters)),
                }
            )
        assert not props, f"teach create_queue_from_template about {sorted(props)} of {logical_id}"
        sqs = self.client("sqs", region)
        url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return url

    def queue_arn(self, url: str, region: str = "") -> str:
        sqs = self.client("sqs", region)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])
