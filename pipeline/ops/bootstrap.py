"""Create the whole stack, idempotently, on whatever endpoint the settings name.

The tables' keys come from `pipeline.schema`, the contract terraform/ also declares; tests/infra
compares the two so that the embedded stack and AWS cannot drift apart.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pipeline.aws import client, error_code
from pipeline.schema import TableSpec, table_specs
from pipeline.settings import Settings

QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600


def bootstrap(settings: Settings, *, local_alert_queue: bool | None = None) -> dict[str, str]:
    """Create bucket, queues, notification, tables and topic; return what was made or found.

    `local_alert_queue` subscribes an SQS queue to the alert topic so sent alerts stay
    readable where no mailbox exists; it defaults to on for the local backend.
    """
    if local_alert_queue is None:
        local_alert_queue = settings.backend == "local"
    s3 = client(settings, "s3")
    sqs = client(settings, "sqs")
    sns = client(settings, "sns")
    dynamodb = client(settings, "dynamodb")

    _ensure_bucket(s3, settings)
    dlq_url = sqs.create_queue(
        QueueName=settings.dlq, Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(QueueName=settings.queue)["QueueUrl"]
    queue_arn = _queue_arn(sqs, queue_url)
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(settings.queue_visibility_seconds),
            "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}
            ),
            "Policy": _allow_send_policy(queue_arn, "s3.amazonaws.com", f"arn:aws:s3:::{settings.bucket}"),
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=settings.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "raw-readings",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": settings.raw_prefix}]}},
                }
            ]
        },
    )
    for name, spec in table_specs(settings).items():
        _ensure_table(dynamodb, name, spec)
    topic_arn = sns.create_topic(Name=settings.topic)["TopicArn"]
    made = {"bucket": settings.bucket, "queue_url": queue_url, "dlq_url": dlq_url, "topic_arn": topic_arn}
    if local_alert_queue:
        made["alerts_queue_url"] = _subscribe_alert_queue(sqs, sns, settings, topic_arn)
    return made


def _ensure_bucket(s3: Any, settings: Settings) -> None:
    request: dict[str, Any] = {"Bucket": settings.bucket}
    if settings.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    try:
        s3.create_bucket(**request)
    except ClientError as exc:
        if error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise


def _ensure_table(dynamodb: Any, name: str, spec: TableSpec) -> None:
    try:
        dynamodb.create_table(**spec.create_request(name))
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _allow_send_policy(queue_arn: str, service: str, source_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                }
            ],
        }
    )


def _subscribe_alert_queue(sqs: Any, sns: Any, settings: Settings, topic_arn: str) -> str:
    url = sqs.create_queue(QueueName=settings.alerts_queue)["QueueUrl"]
    arn = _queue_arn(sqs, url)
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": _allow_send_policy(arn, "sns.amazonaws.com", topic_arn)}
    )
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic_arn):
        if any(s["Endpoint"] == arn for s in page["Subscriptions"]):
            return url
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url
