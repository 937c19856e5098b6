"""The cloud half of infra/resources.py: CloudFormation built from the very same definitions.

``chalice package`` writes the functions, their roles and the REST API; it knows nothing about
the table, bucket and queues they use. ``merge_template()`` supplies those (translated from the
boto3-shaped definitions the local bootstrap applies, so local and cloud cannot drift), plus the
parameters, the dead-letter alarm, the events topic, the webhook secret and the outputs, for
``chalice package --merge-template``.
``finish()`` then makes the edits a merge cannot express (a merge only adds or overwrites keys):
the analyzer becomes a container-image function, every function gets a named log group with a
retention, the shared environment and X-Ray tracing (the ``Tracing`` parameter), and the SQS
trigger is bound to the queue defined here. The alarms and the dashboard: infra/cloud_alarms.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from chalicelib.config import (
    DEFAULT_NOTICES_QUEUE_NAME,
    DEFAULT_QUEUE_NAME,
    DEFAULT_RETENTION_DAYS,
    load_settings,
)
from infra import cloud_alarms
from infra.resources import (
    MAX_RECEIVE_COUNT,
    NOTICE_MAX_RECEIVE_COUNT,
    NOTICE_VISIBILITY_TIMEOUT_S,
    PUBLIC_ACCESS_BLOCK,
    VISIBILITY_TIMEOUT_S,
    bucket_encryption,
    dlq_attributes,
    lifecycle_configuration,
    point_in_time_recovery,
    queue_attributes,
    table_definition,
    time_to_live,
)

# Logical ids; .chalice/policy-*.json reference them in Fn::GetAtt / Fn::Sub.
TABLE = "JobsTable"
BUCKET = "MediaBucket"
QUEUE = "JobsQueue"
DLQ = "JobsDeadLetterQueue"
ALARM = "DeadLetterAlarm"
ALARM_TOPIC = "AlarmTopic"
ALARM_SUBSCRIPTION = "AlarmEmailSubscription"
ANALYZER = "AnalyzeVideo"  # chalice's name for app.analyze_video
RECONCILE = "ReconcileJobs"  # chalice's name for app.reconcile_jobs
# the functions that announce jobs: the analyzer as jobs end, the sweep as it fails expired uploads
ANNOUNCERS = (ANALYZER, RECONCILE)
NOTICES_QUEUE = "NoticesQueue"
NOTICES_DLQ = "NoticesDeadLetterQueue"
EVENTS_TOPIC = "EventsTopic"
WEBHOOK_SECRET_STORE = "WebhookSecretStore"
REST_API = "RestAPI"  # chalice's API Gateway REST API
API_HANDLER = "APIHandler"  # chalice's name for the REST routes' function
KEYS_KEY = "AccessKeysKey"  # KMS key that encrypts tenants' secret access keys
KEYS_KEY_ALIAS = "AccessKeysKeyAlias"
TOKEN_KEY_STORE = "TokenSigningKeyStore"  # signs viewer links and Rekognition NextTokens
# Parameters
IMAGE_URI = "AnalyzerImageUri"
RETENTION_DAYS = "RetentionDays"
MAX_CONCURRENCY = "AnalyzerMaxConcurrency"
ANALYZER_MEMORY = "AnalyzerMemoryMB"
ALARM_EMAIL = "AlarmEmail"
HAS_ALARM_EMAIL = "HasAlarmEmail"
SOURCE_BUCKETS = "RekognitionSourceBuckets"  # where Rekognition Start* may read videos
HAS_SOURCE_BUCKETS = "HasRekognitionSourceBuckets"
WEBHOOK_SECRET = "WebhookSecret"
THROTTLE_RATE = "ApiThrottleRate"
THROTTLE_BURST = "ApiThrottleBurst"
TRACING = "Tracing"
TRACING_ON = "TracingOn"
# AWS's managed policy for sending traces (X-Ray takes no resource ARNs: its grants are "*")
XRAY_WRITE = "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"

LOG_RETENTION_DAYS = 30
DEFAULT_MAX_CONCURRENCY = 10  # analyzers at once; SQS event sources accept 2..1000
# The cheapest size per hour of video (make bench, section 7b; README "Throughput and cost"): one
# vCPU's worth. More memory buys CPU in proportion, but a job does not use 2 vCPUs twice as fast,
# so each larger size costs more per video hour (and finishes sooner).
MB_PER_VCPU = 1769  # "at 1,769 MB, a function has the equivalent of one vCPU" (Lambda's docs)
DEFAULT_ANALYZER_MEMORY_MB = MB_PER_VCPU
MIN_ANALYZER_MEMORY_MB = 1024  # a job peaks near 550 MiB (make bench, section 4)
MAX_ANALYZER_MEMORY_MB = 10240  # Lambda's largest: 6 CPUs
DEFAULT_THROTTLE_RATE = 50  # API Gateway requests per second (stage-wide)
DEFAULT_THROTTLE_BURST = 100
# The analyzer downloads the whole video to /tmp: videos go up to 10 GiB (the upload limit),
# and 10240 MB is the most Lambda gives (its default is 512 MB).
ANALYZER_EPHEMERAL_STORAGE_MB = 10240
FUNCTION_TYPE = "AWS::Serverless::Function"
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}  # jobs outlive a stack


class TemplateError(RuntimeError):
    """Chalice generated something this module does not know how to wire up."""


def _number(value: str) -> int | str:
    """SQS attributes are strings to boto3; CloudFormation wants their numbers as numbers."""
    return int(value) if value.isdigit() else value


def table_resource() -> dict:
    """The local table's definition minus its name: CloudFormation names the cloud one, and the
    functions learn it from VIDEO_JOBS_TABLE (so two stacks can share an account)."""
    definition = table_definition(load_settings())
    properties = {key: value for key, value in definition.items() if key != "TableName"}
    properties["TimeToLiveSpecification"] = time_to_live()
    properties["PointInTimeRecoverySpecification"] = point_in_time_recovery()
    return {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": properties}


def bucket_resource() -> dict:
    encryption = [
        {"ServerSideEncryptionByDefault": rule["ApplyServerSideEncryptionByDefault"]}
        for rule in bucket_encryption()["Rules"]
    ]
    lifecycle = [
        {
            "Id": rule["ID"],
            "Prefix": rule["Filter"]["Prefix"],
            "Status": rule["Status"],
            "ExpirationInDays": {"Ref": RETENTION_DAYS},
        }
        for rule in lifecycle_configuration(DEFAULT_RETENTION_DAYS)["Rules"]
    ]
    return {
        "Type": "AWS::S3::Bucket",
        **RETAIN,
        "Properties": {
            "PublicAccessBlockConfiguration": PUBLIC_ACCESS_BLOCK,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": encryption},
            "LifecycleConfiguration": {"Rules": lifecycle},
        },
    }


def _queue_pair(queue_id: str, dlq_id: str, visibility_s: int, max_receives: int) -> dict:
    attributes = queue_attributes("", visibility_s, max_receives)
    redrive = json.loads(attributes.pop("RedrivePolicy"))
    redrive["deadLetterTargetArn"] = {"Fn::GetAtt": [dlq_id, "Arn"]}
    redrive["maxReceiveCount"] = _number(redrive["maxReceiveCount"])
    queue = {key: _number(value) for key, value in attributes.items()}
    queue["RedrivePolicy"] = redrive
    dlq = {key: _number(value) for key, value in dlq_attributes().items()}
    return {
        dlq_id: {"Type": "AWS::SQS::Queue", "Properties": dlq},
        queue_id: {"Type": "AWS::SQS::Queue", "Properties": queue},
    }


def queue_resources() -> dict[str, dict]:
    return {
        **_queue_pair(QUEUE, DLQ, VISIBILITY_TIMEOUT_S, MAX_RECEIVE_COUNT),
        **_queue_pair(
            NOTICES_QUEUE, NOTICES_DLQ, NOTICE_VISIBILITY_TIMEOUT_S, NOTICE_MAX_RECEIVE_COUNT
        ),
    }


def notice_resources() -> dict[str, dict]:
    """The events topic, and the webhook signing key as a secret (never a plain variable)."""
    return {
        EVENTS_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-video-jobs-events"}},
        },
        WEBHOOK_SECRET_STORE: {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": "HMAC-SHA256 key of X-Video-Jobs-Signature (webhooks)",
                "SecretString": {"Ref": WEBHOOK_SECRET},
            },
        },
    }


def alarm_resources() -> dict[str, dict]:
    """Anything in the dead-letter queue is a job that failed every delivery: page someone."""
    return {
        ALARM_TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {}},
        ALARM_SUBSCRIPTION: {
            "Type": "AWS::SNS::Subscription",
            "Condition": HAS_ALARM_EMAIL,
            "Properties": {
                "TopicArn": {"Ref": ALARM_TOPIC},
                "Protocol": "email",
                "Endpoint": {"Ref": ALARM_EMAIL},
            },
        },
        ALARM: {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": (
                    f"A video job's message failed {MAX_RECEIVE_COUNT} deliveries and was "
                    "dead-lettered. Runbook: docs/operations.md#job-dead-letters"
                ),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [DLQ, "QueueName"]}}],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": ALARM_TOPIC}],
            },
        },
    }


def keys_key_resources() -> dict[str, dict]:
    """The KMS key for access keys' secrets. Its policy delegates to IAM in this account: the
    API's role may Decrypt (policy-api.json); an operator who creates keys needs Encrypt."""
    account_root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    return {
        KEYS_KEY: {
            "Type": "AWS::KMS::Key",
            **RETAIN,
            "Properties": {
                "Description": "video-jobs: encrypts tenants' secret access keys",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountIamPolicies",
                            "Effect": "Allow",
                            "Principal": {"AWS": account_root},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                },
            },
        },
        KEYS_KEY_ALIAS: {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": {"Fn::Sub": "alias/${AWS::StackName}-access-keys"},
                "TargetKeyId": {"Ref": KEYS_KEY},
            },
        },
        TOKEN_KEY_STORE: {  # a random key nobody sees: viewer links cannot be minted outside
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Description": "HMAC key of viewer links and Rekognition NextTokens",
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
            },
        },
    }


def parameters() -> dict[str, dict]:
    return {
        IMAGE_URI: {
            "Type": "String",
            "Description": "The analyzer image: ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG",
            "AllowedPattern": r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+[:@].+$",
        },
        RETENTION_DAYS: {
            "Type": "Number",
            "Default": DEFAULT_RETENTION_DAYS,
            "MinValue": 1,
            "Description": "Days until a job's row (DynamoDB TTL), video and results (S3) expire",
        },
        MAX_CONCURRENCY: {
            "Type": "Number",
            "Default": DEFAULT_MAX_CONCURRENCY,
            "MinValue": 2,
            "MaxValue": 1000,
            "Description": "Most analyzer invocations at once (the SQS event source's limit)",
        },
        ANALYZER_MEMORY: {
            "Type": "Number",
            "Default": DEFAULT_ANALYZER_MEMORY_MB,
            "MinValue": MIN_ANALYZER_MEMORY_MB,
            "MaxValue": MAX_ANALYZER_MEMORY_MB,
            "Description": "Analyzer memory in MB; CPU comes in proportion (1769: one vCPU, "
            "the cheapest per video hour; 10240: the fastest)",
        },
        ALARM_EMAIL: {
            "Type": "String",
            "Default": "",
            "Description": "Optional address the dead-letter alarm emails (confirm the mail)",
        },
        SOURCE_BUCKETS: {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Buckets the Rekognition-compatible API may read videos from (names)",
        },
        WEBHOOK_SECRET: {
            "Type": "String",
            "NoEcho": True,
            "MinLength": 32,
            "Description": "Key that signs webhooks (X-Video-Jobs-Signature); stored in "
            "Secrets Manager, e.g. `openssl rand -hex 32`",
        },
        THROTTLE_RATE: {
            "Type": "Number",
            "Default": DEFAULT_THROTTLE_RATE,
            "MinValue": 1,
            "Description": "API Gateway: steady requests per second, all callers together",
        },
        THROTTLE_BURST: {
            "Type": "Number",
            "Default": DEFAULT_THROTTLE_BURST,
            "MinValue": 1,
            "Description": "API Gateway: requests allowed in a burst above the steady rate",
        },
        TRACING: {
            "Type": "String",
            "Default": "Active",
            "AllowedValues": ["Active", "PassThrough"],
            "Description": "X-Ray: Active traces every request from API Gateway through the "
            "queue to the analyzer; PassThrough sends no traces of its own",
        },
    }


def outputs() -> dict[str, dict]:
    return {
        "JobsTableName": {"Value": {"Ref": TABLE}},
        "MediaBucketName": {"Value": {"Ref": BUCKET}},
        "JobsQueueUrl": {"Value": {"Ref": QUEUE}},
        "DeadLetterQueueUrl": {"Value": {"Ref": DLQ}},
        "AlarmTopicArn": {"Value": {"Ref": ALARM_TOPIC}},
        "EventsTopicArn": {"Value": {"Ref": EVENTS_TOPIC}},
        "NoticesDeadLetterQueueUrl": {"Value": {"Ref": NOTICES_DLQ}},
        "AccessKeysKmsKeyArn": {"Value": {"Fn::GetAtt": [KEYS_KEY, "Arn"]}},
    }


def operations_resources() -> dict[str, dict]:
    """The alarms beside the dead-letter alarm, and the dashboard (infra/cloud_alarms.py)."""
    widgets = cloud_alarms.dashboard_widgets(
        queue=QUEUE, notices_dlq=NOTICES_DLQ, dead_letter_alarm=ALARM, analyzer=ANALYZER,
        api=API_HANDLER,
    )  # fmt: skip
    return {
        **cloud_alarms.alarm_resources(
            topic=ALARM_TOPIC, notices_dlq=NOTICES_DLQ, queue=QUEUE, analyzer=ANALYZER
        ),
        **cloud_alarms.dashboard_resource(widgets),
    }


def merge_template() -> dict:
    """What ``chalice package --merge-template`` adds to Chalice's template."""
    return {
        "Parameters": {**parameters(), **cloud_alarms.parameters()},
        "Conditions": {
            HAS_ALARM_EMAIL: {"Fn::Not": [{"Fn::Equals": [{"Ref": ALARM_EMAIL}, ""]}]},
            HAS_SOURCE_BUCKETS: {
                "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": SOURCE_BUCKETS}]}, ""]}]
            },
            TRACING_ON: {"Fn::Equals": [{"Ref": TRACING}, "Active"]},
        },
        "Resources": {
            TABLE: table_resource(),
            BUCKET: bucket_resource(),
            **queue_resources(),
            **alarm_resources(),
            **notice_resources(),
            **keys_key_resources(),
            **operations_resources(),
        },
        "Outputs": outputs(),
    }


def function_environment() -> dict:
    """Every function finds the stack's resources by these names (chalicelib/config.py)."""
    return {
        "VIDEO_JOBS_TABLE": {"Ref": TABLE},
        "VIDEO_JOBS_BUCKET": {"Ref": BUCKET},
        "VIDEO_JOBS_QUEUE": {"Fn::GetAtt": [QUEUE, "QueueName"]},
        "VIDEO_JOBS_RETENTION_DAYS": {"Ref": RETENTION_DAYS},
        "VIDEO_JOBS_MAX_ATTEMPTS": str(MAX_RECEIVE_COUNT),
        "VIDEO_JOBS_SIGNING_KEY_ARN": {"Ref": TOKEN_KEY_STORE},
        "VIDEO_JOBS_NOTICES_QUEUE": {"Fn::GetAtt": [NOTICES_QUEUE, "QueueName"]},
        "VIDEO_JOBS_NOTICES_DLQ": {"Fn::GetAtt": [NOTICES_DLQ, "QueueName"]},
        "VIDEO_JOBS_EVENTS_TOPIC_ARN": {"Ref": EVENTS_TOPIC},
        "VIDEO_JOBS_WEBHOOK_SECRET_ARN": {"Ref": WEBHOOK_SECRET_STORE},
        # the sweep waits this long past a lease for the queue's own redelivery
        "VIDEO_JOBS_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        "VIDEO_JOBS_KEYS_KMS_KEY": {"Fn::GetAtt": [KEYS_KEY, "Arn"]},
        # the Service dimension of the metrics: two stacks in one account keep apart
        "VIDEO_JOBS_METRICS_SERVICE": {"Ref": "AWS::StackName"},
    }


def events_environment() -> dict:
    """Events link to status and results with full URLs: Chalice's REST API and its stage.
    (Given to the functions that build events, ANNOUNCERS; the API function cannot refer to
    its own API.)"""
    url = "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"
    return {"VIDEO_JOBS_PUBLIC_URL": {"Fn::Sub": url}}


def functions(template: dict) -> Iterator[tuple[str, dict]]:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == FUNCTION_TYPE:
            yield logical_id, resource


QUEUES_BY_NAME = {DEFAULT_QUEUE_NAME: QUEUE, DEFAULT_NOTICES_QUEUE_NAME: NOTICES_QUEUE}


def _bind_sqs_event(properties: dict) -> None:
    """app.py names its queues (chalice can only refer to them by name); use the ones defined
    here."""
    queue = properties["Queue"]
    name = queue.get("Fn::Sub", "").rsplit(":", 1)[-1] if isinstance(queue, dict) else None
    if name not in QUEUES_BY_NAME:
        raise TemplateError(f"an SQS trigger on a queue this template does not define: {queue}")
    properties["Queue"] = {"Fn::GetAtt": [QUEUES_BY_NAME[name], "Arn"]}
    if name == DEFAULT_QUEUE_NAME:
        properties["ScalingConfig"] = {"MaximumConcurrency": {"Ref": MAX_CONCURRENCY}}


def _name_and_log(template: dict, logical_id: str, properties: dict) -> None:
    """A function name we know lets its log group (with a retention) exist before it runs, and
    lets its policy grant writes to that one group only."""
    name = f"${{AWS::StackName}}-{logical_id}"
    properties["FunctionName"] = {"Fn::Sub": name}
    template["Resources"][f"{logical_id}LogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": {"Fn::Sub": f"/aws/lambda/{name}"},
            "RetentionInDays": LOG_RETENTION_DAYS,
        },
    }


def to_image_function(properties: dict) -> None:
    """Run the same handler from the analyzer image instead of Chalice's zip."""
    handler = properties.pop("Handler")
    for key in ("CodeUri", "Runtime", "Layers"):
        properties.pop(key, None)
    properties["PackageType"] = "Image"
    properties["ImageUri"] = {"Ref": IMAGE_URI}
    properties["ImageConfig"] = {"Command": [handler]}
    properties["EphemeralStorage"] = {"Size": ANALYZER_EPHEMERAL_STORAGE_MB}
    properties["MemorySize"] = {"Ref": ANALYZER_MEMORY}


def finish(template: dict) -> dict:
    """Apply the edits a merge cannot make to Chalice's merged template, in place."""
    found = dict(functions(template))
    for announcer in ANNOUNCERS:
        if announcer not in found:
            raise TemplateError(f"chalice generated no {announcer} function; found {sorted(found)}")
    for logical_id, resource in found.items():
        properties = resource["Properties"]
        _name_and_log(template, logical_id, properties)
        properties.setdefault("Environment", {}).setdefault("Variables", {})
        properties["Environment"]["Variables"].update(function_environment())
        for event in properties.get("Events", {}).values():
            if event["Type"] == "SQS":
                _bind_sqs_event(event["Properties"])
    for announcer in ANNOUNCERS:
        found[announcer]["Properties"]["Environment"]["Variables"].update(events_environment())
    to_image_function(found[ANALYZER]["Properties"])
    _throttle(template)
    for logical_id, resource in found.items():
        _trace(template, logical_id, resource["Properties"])
    return template


def _trace(template: dict, logical_id: str, properties: dict) -> None:
    """X-Ray on the function (the Tracing parameter) and its role's right to send traces. A
    traced function's boto3 calls carry its trace header, so SQS hands it to the analyzer
    (AWSTraceHeader): one trace from API Gateway through the queue to the analysis."""
    properties["Tracing"] = {"Ref": TRACING}
    if "Fn::GetAtt" not in properties.get("Role", {}):
        raise TemplateError(f"{logical_id} has no role of its own to let it send traces")
    role = template["Resources"][properties["Role"]["Fn::GetAtt"][0]]["Properties"]
    role.setdefault("ManagedPolicyArns", []).append(
        {"Fn::If": [TRACING_ON, {"Fn::Sub": XRAY_WRITE}, {"Ref": "AWS::NoValue"}]}
    )


def _throttle(template: dict) -> None:
    """Stage-wide throttling in API Gateway (429 before any function runs), beside the
    per-tenant job limit the API itself enforces."""
    api = template["Resources"].get(REST_API)
    if api is None:
        raise TemplateError(f"chalice generated no {REST_API}")
    # the API's name is the stack's, so its CloudWatch metrics (ApiName) name this stack
    api["Properties"]["Name"] = {"Ref": "AWS::StackName"}
    api["Properties"]["TracingEnabled"] = {"Fn::If": [TRACING_ON, True, False]}
    api["Properties"]["MethodSettings"] = [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": THROTTLE_RATE},
            "ThrottlingBurstLimit": {"Ref": THROTTLE_BURST},
        }
    ]
