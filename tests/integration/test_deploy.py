"""The deployable template and the analyzer image, checked without an AWS account or Docker.

``infra.package`` runs the real ``chalice package`` once for the module (a few seconds once
Chalice's wheel cache is warm); the checks read the finished template.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.analysis.slices import checkpoint_path
from chalicelib.bootstrap import aws_client
from chalicelib.config import (
    DEFAULT_RETENTION_DAYS,
    TEXT_DETECTOR_FILE,
    TEXT_RECOGNIZER_FILE,
    load_settings,
    sized_model_path,
)
from chalicelib.jobs.dynamo import TENANT_INDEX
from chalicelib.jobs.ids import new_job_id, results_path, video_path
from chalicelib.jobs.record import JobRecord
from chalicelib.metrics import NAMESPACE, UNITS
from chalicelib.models.record import MODELS_PREFIX, model_path, new_model_id
from chalicelib.results.pieces import piece_path
from chalicelib.search.dynamo import TERM_INDEX
from functions.analyzer.build_context import DOCKERFILE, stage
from infra.cloud_alarms import ALARMS, DASHBOARD, FAILURE_PERCENT, OLDEST_JOB_ALARM, OLDEST_JOB_S
from infra.cloud_template import (
    ALARM,
    ALARM_TOPIC,
    ANALYZER,
    ANALYZER_MEMORY,
    API_HANDLER,
    BUCKET,
    DEFAULT_ANALYZER_MEMORY_MB,
    DLQ,
    EVENTS_TOPIC,
    HAS_SOURCE_BUCKETS,
    IMAGE_URI,
    MAX_ANALYZER_MEMORY_MB,
    MB_PER_VCPU,
    NOTICES_DLQ,
    NOTICES_QUEUE,
    QUEUE,
    REST_API,
    RETENTION_DAYS,
    SOURCE_BUCKETS,
    TABLE,
    TOKEN_KEY_STORE,
    TRACING,
    TRACING_ON,
    WEBHOOK_SECRET,
    WEBHOOK_SECRET_STORE,
    functions,
)
from infra.package import lint, package
from infra.resources import (
    ANALYZER_TIMEOUT_S,
    JOB_TTL_ATTRIBUTE,
    MAX_RECEIVE_COUNT,
    MEDIA_PREFIX,
    VISIBILITY_TIMEOUT_S,
    bootstrap,
    dlq_name,
    table_definition,
)
from layers.analyzer.size_report import report

ROOT = Path(__file__).resolve().parents[2]
OBJECTS = f"${{{BUCKET}.Arn}}/{MEDIA_PREFIX}"
MODEL_FILES = f"${{{BUCKET}.Arn}}/{MODELS_PREFIX}/*.onnx"  # tenants' detectors, never media
# Rekognition completion notices go to topics named as AWS's own Rekognition service role allows
REKOGNITION_TOPICS = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:AmazonRekognition*"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> Path:
    return package(tmp_path_factory.mktemp("package") / "out")


@pytest.fixture(scope="module")
def template(packaged) -> dict:
    return json.loads(packaged.read_text())


def props(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def grants(template: dict, function: str) -> set[tuple[str, str]]:
    """(action, resource) pairs the function's role allows; resources as canonical JSON."""
    role = props(template, function)["Role"]["Fn::GetAtt"][0]
    pairs = set()
    for policy in props(template, role)["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow" and "Condition" not in statement
            for action in _listed(statement["Action"]):
                for resource in _listed(statement["Resource"]):
                    pairs.add((action, json.dumps(resource, sort_keys=True)))
    return pairs


def expect(actions: str, resource: dict) -> set[tuple[str, str]]:
    return {(action, json.dumps(resource, sort_keys=True)) for action in actions.split()}


def arn(logical_id: str) -> dict:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_template_passes_cfn_lint(packaged):
    lint(packaged)  # raises PackageError with cfn-lint's findings


def test_analyzer_is_an_image_function_fed_one_message_at_a_time(template):
    analyzer = props(template, ANALYZER)
    assert analyzer["PackageType"] == "Image" and analyzer["ImageUri"] == {"Ref": IMAGE_URI}
    assert not {"CodeUri", "Handler", "Runtime"} & analyzer.keys()
    (event,) = analyzer["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["Queue"] == arn(QUEUE)
    assert "MaximumConcurrency" in event["Properties"]["ScalingConfig"]
    redrive = props(template, QUEUE)["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": arn(DLQ), "maxReceiveCount": MAX_RECEIVE_COUNT}


def test_other_functions_are_chalices_zip(template):
    zipped = {name: p["Properties"] for name, p in functions(template) if name != ANALYZER}
    assert {"APIHandler", "ReconcileJobs"} <= zipped.keys()
    for properties in zipped.values():
        assert properties["CodeUri"] == "./deployment.zip"
        assert properties["Handler"].startswith("app.") and "PackageType" not in properties


def test_analyzer_memory_is_a_parameter_defaulting_to_the_cheapest_size(template):
    """make bench, section 7b: one vCPU's worth (1769 MB) costs least per video hour."""
    parameter = template["Parameters"][ANALYZER_MEMORY]
    assert props(template, ANALYZER)["MemorySize"] == {"Ref": ANALYZER_MEMORY}
    assert parameter["Default"] == DEFAULT_ANALYZER_MEMORY_MB == MB_PER_VCPU
    assert parameter["MinValue"] <= MB_PER_VCPU
    assert parameter["MaxValue"] == MAX_ANALYZER_MEMORY_MB == 10240
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    configured = chalice_config["stages"]["prod"]["lambda_functions"]["analyze_video"]
    assert configured["lambda_memory_size"] == DEFAULT_ANALYZER_MEMORY_MB  # chalice deploy too


def test_queue_visibility_outlasts_six_analyzer_timeouts(template):
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    configured = chalice_config["stages"]["prod"]["lambda_functions"]["analyze_video"]
    timeout = props(template, ANALYZER)["Timeout"]
    assert timeout == configured["lambda_timeout"] == ANALYZER_TIMEOUT_S
    assert props(template, QUEUE)["VisibilityTimeout"] == VISIBILITY_TIMEOUT_S >= 6 * timeout


def test_each_function_has_its_own_role_and_no_wildcard_grants(template):
    roles = [props(template, name)["Role"]["Fn::GetAtt"][0] for name, _ in functions(template)]
    assert len(set(roles)) == len(roles) and "DefaultRole" not in template["Resources"]
    for name, _ in functions(template):
        for action, resource in grants(template, name):
            assert "*" not in action, f"{name} may {action}"
            assert resource.startswith("{"), f"{name}: {resource} is not one of this stack's"


def test_api_may_touch_only_job_keys_rows_and_its_queue(template):
    assert grants(template, "APIHandler") == (
        expect("logs:CreateLogStream logs:PutLogEvents", arn("APIHandlerLogGroup"))
        | expect("s3:PutObject s3:GetObject s3:DeleteObject", {"Fn::Sub": f"{OBJECTS}*"})
        # a model's presigned PUT, start's size check (HEAD) and its delete
        | expect("s3:PutObject s3:GetObject s3:DeleteObject", {"Fn::Sub": MODEL_FILES})
        | expect("s3:ListBucket", arn(BUCKET))  # S3 says 404, not 403, for a missing key
        | expect(
            "dynamodb:GetItem dynamodb:PutItem dynamodb:UpdateItem dynamodb:DeleteItem "
            "dynamodb:BatchWriteItem",  # a deleted job's search items, 25 a call
            arn(TABLE),
        )
        | expect("dynamodb:Query", {"Fn::Sub": "${JobsTable.Arn}/index/*"})  # listing, search
        | expect("sqs:SendMessage sqs:GetQueueUrl sqs:GetQueueAttributes", arn(QUEUE))
        | expect("kms:Decrypt", arn("AccessKeysKey"))  # secret access keys, to check SigV4
        | expect("secretsmanager:GetSecretValue", {"Ref": TOKEN_KEY_STORE})  # signs view links
        | expect(
            "s3:GetObject s3:GetObjectVersion", source_buckets("/*", {"Fn::Sub": f"{OBJECTS}*"})
        )
        | expect("s3:ListBucket", source_buckets("", arn(BUCKET)))
    )


def source_buckets(suffix: str, otherwise: dict) -> dict:
    """ARNs of the Rekognition source buckets (+ ``suffix``), or a grant the role already has."""
    joined = {"Fn::Join": [f"{suffix},arn:aws:s3:::", {"Ref": SOURCE_BUCKETS}]}
    arns = {"Fn::Split": [",", {"Fn::Join": ["", ["arn:aws:s3:::", joined, suffix]]}]}
    return {"Fn::If": [HAS_SOURCE_BUCKETS, arns, otherwise]}


def test_rekognition_source_bucket_arns_come_from_the_parameter(template):
    assert template["Parameters"][SOURCE_BUCKETS]["Type"] == "CommaDelimitedList"
    arns = source_buckets("/*", {})["Fn::If"][1]["Fn::Split"][1]["Fn::Join"][1]
    names = ["in-a", "in-b"]  # what CloudFormation would do with "in-a,in-b"
    text = arns[0] + (arns[2] + ",arn:aws:s3:::").join(names) + arns[2]
    assert text.split(",") == ["arn:aws:s3:::in-a/*", "arn:aws:s3:::in-b/*"]


def test_analyzer_reads_videos_and_writes_results_only(template):
    videos, results = f"{OBJECTS}*.mp4", f"{OBJECTS}*_results.json"
    assert grants(template, ANALYZER) == (
        expect("logs:CreateLogStream logs:PutLogEvents", arn(f"{ANALYZER}LogGroup"))
        | expect("s3:GetObject", {"Fn::Sub": videos})
        | expect("s3:GetObject", {"Fn::Sub": results})  # pieces and checkpoints, read back
        | expect("s3:PutObject", {"Fn::Sub": results})
        # a model validated (the file deleted if refused) and loaded into the cache
        | expect("s3:GetObject s3:DeleteObject", {"Fn::Sub": MODEL_FILES})
        | expect("s3:ListBucket", arn(BUCKET))
        | expect(
            "dynamodb:GetItem dynamodb:UpdateItem dynamodb:PutItem dynamodb:BatchWriteItem",
            arn(TABLE),  # PutItem: places; BatchWriteItem: a completed job's search items
        )
        | expect(
            "sqs:ReceiveMessage sqs:SendMessage sqs:DeleteMessage sqs:GetQueueAttributes "
            "sqs:ChangeMessageVisibility sqs:GetQueueUrl",  # SendMessage: a slice's continuation
            arn(QUEUE),
        )
        | expect("sns:Publish", {"Fn::Sub": REKOGNITION_TOPICS})
        | expect("sns:Publish", {"Ref": EVENTS_TOPIC})
        | expect("sqs:SendMessage sqs:GetQueueUrl", arn(NOTICES_QUEUE))
    )
    job_id, bucket_arn = new_job_id(), f"${{{BUCKET}.Arn}}/"
    assert fnmatch.fnmatch(bucket_arn + video_path(job_id), videos)
    assert fnmatch.fnmatch(bucket_arn + results_path(job_id), results)
    model_file = model_path("acme", new_model_id())
    assert fnmatch.fnmatch(bucket_arn + model_file, MODEL_FILES)
    assert not any(fnmatch.fnmatch(bucket_arn + model_file, media) for media in (videos, results))
    for stored in (piece_path(results_path(job_id), 0), checkpoint_path(results_path(job_id), 1)):
        assert fnmatch.fnmatch(bucket_arn + stored, results), stored


def test_reconciler_scans_rows_requeues_and_ends_expired_uploads_only(template):
    assert grants(template, "ReconcileJobs") == (
        expect("logs:CreateLogStream logs:PutLogEvents", arn("ReconcileJobsLogGroup"))
        | expect("dynamodb:Scan", arn(TABLE))
        | expect("dynamodb:GetItem dynamodb:UpdateItem dynamodb:PutItem", arn(TABLE))
        | expect("sqs:SendMessage sqs:GetQueueUrl", arn(QUEUE))  # + lost model validations
        | expect("s3:DeleteObject", {"Fn::Sub": MODEL_FILES})  # of stranded models, failed
        | expect("sns:Publish", {"Ref": "EventsTopic"})  # an expired upload's notices
        | expect("sqs:SendMessage sqs:GetQueueUrl", arn(NOTICES_QUEUE))
    )


def test_notices_are_delivered_by_a_zip_function_that_only_touches_its_queues(template):
    deliverer = props(template, "DeliverNotice")
    assert deliverer["CodeUri"] == "./deployment.zip" and deliverer["Timeout"] == 30
    (event,) = deliverer["Events"].values()
    assert event["Type"] == "SQS" and event["Properties"]["BatchSize"] == 1
    assert event["Properties"]["Queue"] == arn(NOTICES_QUEUE)
    assert props(template, NOTICES_QUEUE)["RedrivePolicy"]["deadLetterTargetArn"] == arn(
        NOTICES_DLQ
    )
    assert props(template, NOTICES_QUEUE)["VisibilityTimeout"] >= 6 * deliverer["Timeout"]
    assert grants(template, "DeliverNotice") == (
        expect("logs:CreateLogStream logs:PutLogEvents", arn("DeliverNoticeLogGroup"))
        | expect(
            "sqs:ReceiveMessage sqs:DeleteMessage sqs:GetQueueAttributes "
            "sqs:ChangeMessageVisibility sqs:GetQueueUrl sqs:SendMessage",
            arn(NOTICES_QUEUE),
        )
        | expect("sqs:SendMessage sqs:GetQueueUrl", arn(NOTICES_DLQ))
        | expect("secretsmanager:GetSecretValue", {"Ref": WEBHOOK_SECRET_STORE})
    )


def test_the_webhook_secret_is_a_noecho_parameter_kept_in_secrets_manager(template):
    parameter = template["Parameters"][WEBHOOK_SECRET]
    assert parameter["NoEcho"] is True and parameter["MinLength"] >= 32
    store = template["Resources"][WEBHOOK_SECRET_STORE]
    assert store["Type"] == "AWS::SecretsManager::Secret"
    assert store["Properties"]["SecretString"] == {"Ref": WEBHOOK_SECRET}
    assert template["Resources"][EVENTS_TOPIC]["Type"] == "AWS::SNS::Topic"
    for name, resource in functions(template):
        env = resource["Properties"]["Environment"]["Variables"]
        assert "VIDEO_JOBS_WEBHOOK_SECRET" not in env, f"{name} has the secret in plain text"
        assert env["VIDEO_JOBS_WEBHOOK_SECRET_ARN"] == {"Ref": WEBHOOK_SECRET_STORE}
        assert env["VIDEO_JOBS_EVENTS_TOPIC_ARN"] == {"Ref": EVENTS_TOPIC}
        assert env["VIDEO_JOBS_NOTICES_QUEUE"] == {"Fn::GetAtt": [NOTICES_QUEUE, "QueueName"]}
        assert env["VIDEO_JOBS_NOTICES_DLQ"] == {"Fn::GetAtt": [NOTICES_DLQ, "QueueName"]}
    for announcer in (ANALYZER, "ReconcileJobs"):  # both send events, with absolute URLs
        announcer_env = props(template, announcer)["Environment"]["Variables"]
        assert "${RestAPI}" in announcer_env["VIDEO_JOBS_PUBLIC_URL"]["Fn::Sub"], announcer


def test_functions_log_to_their_own_group_and_find_the_stack_resources(template):
    for name, resource in functions(template):
        function_name = resource["Properties"]["FunctionName"]["Fn::Sub"]
        assert function_name == f"${{AWS::StackName}}-{name}"
        log_group = props(template, f"{name}LogGroup")
        assert log_group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function_name}"}
        env = resource["Properties"]["Environment"]["Variables"]
        assert env["VIDEO_JOBS_STAGE"] == "prod"
        assert env["VIDEO_JOBS_TABLE"] == {"Ref": TABLE} and env["VIDEO_JOBS_BUCKET"] == {
            "Ref": BUCKET
        }
        assert env["VIDEO_JOBS_QUEUE"] == {"Fn::GetAtt": [QUEUE, "QueueName"]}
        assert env["VIDEO_JOBS_RETENTION_DAYS"] == {"Ref": RETENTION_DAYS}


def test_dead_letters_raise_an_alarm(template):
    alarm = props(template, ALARM)
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [DLQ, "QueueName"]}}
    ]
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0


def test_retention_is_one_setting_for_rows_and_files(template, monkeypatch):
    monkeypatch.delenv("VIDEO_JOBS_RETENTION_DAYS", raising=False)
    assert template["Parameters"][RETENTION_DAYS]["Default"] == DEFAULT_RETENTION_DAYS
    assert load_settings().job_retention_days == DEFAULT_RETENTION_DAYS
    (rule,) = props(template, BUCKET)["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == {"Ref": RETENTION_DAYS} and rule["Prefix"] == MEDIA_PREFIX
    # tenants' models are kept until deleted: no rule may expire them with the videos
    assert not model_path("acme", new_model_id()).startswith(rule["Prefix"])
    assert props(template, TABLE)["TimeToLiveSpecification"]["AttributeName"] == JOB_TTL_ATTRIBUTE
    assert JOB_TTL_ATTRIBUTE in JobRecord.__dataclass_fields__  # the attribute the app writes


def test_local_bootstrap_builds_what_the_template_declares(template, aws_env):
    table, bucket = props(template, TABLE), props(template, BUCKET)
    queue, dlq = props(template, QUEUE), props(template, DLQ)
    with mock_aws():
        settings = load_settings()
        created = bootstrap(settings, visibility_timeout_s=VISIBILITY_TIMEOUT_S)
        dynamodb, s3, sqs = (aws_client(name, settings) for name in ("dynamodb", "s3", "sqs"))
        described = dynamodb.describe_table(TableName=created.table)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=created.table)["TimeToLiveDescription"]
        backups = dynamodb.describe_continuous_backups(TableName=created.table)
        recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        block = s3.get_public_access_block(Bucket=created.bucket)
        encryption = s3.get_bucket_encryption(Bucket=created.bucket)
        (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=created.bucket)["Rules"]
        attributes = sqs.get_queue_attributes(QueueUrl=created.queue_url, AttributeNames=["All"])
        dlq_attributes = sqs.get_queue_attributes(QueueUrl=created.dlq_url, AttributeNames=["All"])
    assert described["KeySchema"] == table["KeySchema"]
    assert described["AttributeDefinitions"] == table["AttributeDefinitions"]
    assert described["BillingModeSummary"]["BillingMode"] == table["BillingMode"]
    # GET /video/jobs queries the first, GET /video/search the second
    indexes, declared = described["GlobalSecondaryIndexes"], table["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == [i["IndexName"] for i in declared] == [
        TENANT_INDEX, TERM_INDEX]  # fmt: skip
    for index, promised in zip(indexes, declared, strict=True):
        assert index["KeySchema"] == promised["KeySchema"]
        assert index["Projection"] == {"ProjectionType": "ALL"}
    assert ttl == {"AttributeName": JOB_TTL_ATTRIBUTE, "TimeToLiveStatus": "ENABLED"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": JOB_TTL_ATTRIBUTE, "Enabled": True}
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert block["PublicAccessBlockConfiguration"] == bucket["PublicAccessBlockConfiguration"]
    (local_sse,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    (cloud_sse,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert (
        local_sse["ApplyServerSideEncryptionByDefault"]
        == cloud_sse["ServerSideEncryptionByDefault"]
    )
    (cloud_rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert (rule["ID"], rule["Filter"]["Prefix"], rule["Status"]) == (
        cloud_rule["Id"],
        cloud_rule["Prefix"],
        cloud_rule["Status"],
    )
    assert rule["Expiration"]["Days"] == DEFAULT_RETENTION_DAYS
    local = attributes["Attributes"]
    assert int(local["VisibilityTimeout"]) == queue["VisibilityTimeout"]
    assert int(local["ReceiveMessageWaitTimeSeconds"]) == queue["ReceiveMessageWaitTimeSeconds"]
    redrive = json.loads(local["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"].endswith(f":{dlq_name(settings)}")
    assert (
        int(dlq_attributes["Attributes"]["MessageRetentionPeriod"]) == dlq["MessageRetentionPeriod"]
    )


def test_local_bootstrap_builds_the_notices_queues_and_topic_the_template_declares(
    template, aws_env
):
    queue = props(template, NOTICES_QUEUE)
    with mock_aws():
        settings = load_settings()
        created = bootstrap(settings, visibility_timeout_s=VISIBILITY_TIMEOUT_S)
        sqs, sns = aws_client("sqs", settings), aws_client("sns", settings)
        local = sqs.get_queue_attributes(QueueUrl=created.notices_url, AttributeNames=["All"])
        topics = [topic["TopicArn"] for topic in sns.list_topics()["Topics"]]
    local = local["Attributes"]
    assert int(local["VisibilityTimeout"]) == queue["VisibilityTimeout"]
    redrive = json.loads(local["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == queue["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"].endswith(f":{settings.notices.dlq_name}")
    assert created.notices_dlq_url.endswith(f"/{settings.notices.dlq_name}")
    assert topics == [created.events_topic_arn]
    assert created.events_topic_arn.endswith(":video-jobs-events")


def _dockerfile_lines() -> list[str]:
    """Instructions with their continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_image_runs_the_handler_chalice_registered(template):
    (cmd,) = [line for line in _dockerfile_lines() if line.startswith("CMD ")]
    command = json.loads(cmd.removeprefix("CMD "))
    assert command == ["app.analyze_video"] == props(template, ANALYZER)["ImageConfig"]["Command"]
    from app import analyze_video

    assert callable(analyze_video)


def test_staged_context_holds_everything_the_dockerfile_copies(tmp_path):
    model, text = tmp_path / "model.onnx", [tmp_path / "det.onnx", tmp_path / "rec.onnx"]
    model.write_bytes(b"onnx")
    text[0].write_bytes(b"fused text detector")
    text[1].write_bytes(b"fused text recognizer")
    with pytest.raises(FileNotFoundError, match="model-608.onnx; build it with `make model`"):
        stage(tmp_path / "context", model, *text)
    (tmp_path / "model-608.onnx").write_bytes(b"onnx at 608")
    context = stage(tmp_path / "context", model, *text)
    copies = [line.split()[1:-1] for line in _dockerfile_lines() if line.startswith("COPY ")]
    for source in (source for sources in copies for source in sources):
        assert (context / source).exists(), f"the Dockerfile copies {source}; it was not staged"
    (env,) = [line for line in _dockerfile_lines() if line.startswith("ENV VIDEO_JOBS_MODEL_PATH=")]
    model_target = env.split("=", 1)[1]
    assert any(line.endswith(f" {model_target}") for line in _dockerfile_lines())
    # the 608 model goes where the analyzer looks for it, from the file staged for it
    large = sized_model_path(Path(model_target), 608).as_posix()
    (source,) = [ln.split()[1] for ln in _dockerfile_lines() if ln.endswith(f" {large}")]
    assert (context / source).read_bytes() == b"onnx at 608"
    # the fused OCR models go into the folder VIDEO_JOBS_MODEL_DIR names
    (env,) = [line for line in _dockerfile_lines() if line.startswith("ENV VIDEO_JOBS_MODEL_DIR=")]
    for name, staged in ((TEXT_DETECTOR_FILE, b"detector"), (TEXT_RECOGNIZER_FILE, b"recognizer")):
        fused = f"{env.split('=', 1)[1]}/{name}"
        (source,) = [ln.split()[1] for ln in _dockerfile_lines() if ln.endswith(f" {fused}")]
        assert (context / source).read_bytes() == b"fused text " + staged
    assert (context / "chalicelib" / "analysis").is_dir()
    assert not list(context.rglob("__pycache__"))


def _pins(path: Path) -> dict[str, str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line)


def test_image_pins_the_chalice_the_tests_use():
    image = _pins(ROOT / "functions" / "analyzer" / "requirements.txt")
    assert image["chalice"] == _pins(ROOT / "requirements-dev.txt")["chalice"]


def test_size_report_shows_why_the_analyzer_is_an_image():
    lines = report()
    assert any(line.startswith("onnxruntime ") for line in lines)
    for name in (TEXT_DETECTOR_FILE, TEXT_RECOGNIZER_FILE):  # the image ships them too
        assert any(line.startswith(f"model {name} ") for line in lines), name
    (zip_line,) = [line for line in lines if line.startswith("zip function limit")]
    (image_line,) = [line for line in lines if line.startswith("container image limit")]
    assert "OVER" in zip_line and "OVER" not in image_line


# The Lambda python:3.12 base image is Amazon Linux 2023 (glibc 2.34): wheels tagged up to
# manylinux_2_34 run there, and onnxruntime publishes manylinux_2_28 wheels only.
TARGET = [
    "--only-binary=:all:",
    "--implementation=cp",
    "--python-version=3.12",
    *(f"--platform={tag}_x86_64" for tag in ("manylinux2014", "manylinux_2_28", "manylinux_2_34")),
]


@pytest.mark.slow
def test_image_dependencies_have_wheels_for_lambda_python_312(tmp_path):
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(tmp_path), *TARGET]
    with_deps = ["requirements.txt", "layers/analyzer/requirements.txt"]
    with_deps.append("functions/analyzer/requirements.txt")
    runs = [
        pip + [arg for name in with_deps for arg in ("-r", name)],
        pip + ["--no-deps", "-r", "layers/analyzer/requirements-nodeps.txt"],
    ]
    for command in runs:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    wheels = {path.name.split("-")[0].lower() for path in tmp_path.glob("*.whl")}
    assert {"onnxruntime", "opencv_python_headless", "rapidocr_onnxruntime", "chalice"} <= wheels


def test_tokens_are_signed_with_a_generated_secret_never_a_plain_or_guessable_key(template):
    store = template["Resources"][TOKEN_KEY_STORE]
    assert store["Type"] == "AWS::SecretsManager::Secret"
    assert store["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    for name, resource in functions(template):
        env = resource["Properties"]["Environment"]["Variables"]
        assert "VIDEO_JOBS_PAGINATION_KEY" not in env, f"{name} has a signing key in plain text"
        assert env["VIDEO_JOBS_SIGNING_KEY_ARN"] == {"Ref": TOKEN_KEY_STORE}


# --- Operations: alarms with runbooks, the dashboard (infra/cloud_alarms.py) -------------------

OPERATIONS_DOC = ROOT / "docs" / "operations.md"


def runbooks() -> dict[str, str]:
    """docs/operations.md's ``### name`` sections under "Alarms", by heading."""
    text = OPERATIONS_DOC.read_text(encoding="utf-8").split("## Alarms and what to do", 1)[1]
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def alarms_of(template: dict) -> dict[str, dict]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_notifies_the_topic_and_has_a_runbook_paragraph(template):
    alarms, books = alarms_of(template), runbooks()
    assert set(alarms) == {ALARM, *ALARMS} and len(alarms) == 7
    assert len(books) == len(alarms)
    for logical_id, alarm in alarms.items():
        assert {"Ref": ALARM_TOPIC} in alarm["AlarmActions"], logical_id
        (anchor,) = re.findall(r"docs/operations\.md#([a-z0-9-]+)", alarm["AlarmDescription"])
        book = books[anchor]  # the heading the description links to
        assert f"`{logical_id}`" in book, anchor
        assert all(part in book for part in ("*Means:*", "*Look at:*", "*Do:*")), anchor


def test_alarms_watch_this_stacks_queues_functions_api_and_metrics(template):
    alarms = alarms_of(template)
    stack = {"Ref": "AWS::StackName"}
    for name, resource in functions(template):  # the metrics' Service dimension: the stack
        assert resource["Properties"]["Environment"]["Variables"]["VIDEO_JOBS_METRICS_SERVICE"] == (
            stack
        ), name
    oldest = alarms[OLDEST_JOB_ALARM]
    assert oldest["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert oldest["Dimensions"][0]["Value"] == {"Fn::GetAtt": [QUEUE, "QueueName"]}
    assert oldest["Threshold"] == {"Ref": OLDEST_JOB_S}
    notices = [a for a in alarms.values() if a.get("Dimensions", [{}])[0].get("Value") ==
               {"Fn::GetAtt": [NOTICES_DLQ, "QueueName"]}]  # fmt: skip
    assert len(notices) == 1 and notices[0]["Threshold"] == 0
    analyzer = props(template, ANALYZER)["FunctionName"]
    lambda_alarms = [a for a in alarms.values() if a.get("Namespace") == "AWS/Lambda"]
    assert sorted(a["MetricName"] for a in lambda_alarms) == ["Errors", "Throttles"]
    assert all(a["Dimensions"] == [{"Name": "FunctionName", "Value": analyzer}]
               for a in lambda_alarms)  # fmt: skip
    (api,) = [a for a in alarms.values() if a.get("Namespace") == "AWS/ApiGateway"]
    assert api["MetricName"] == "5XXError" and props(template, REST_API)["Name"] == stack
    assert {"Name": "ApiName", "Value": stack} in api["Dimensions"]
    (rate,) = [a for a in alarms.values() if "Metrics" in a]
    watched = [m["MetricStat"]["Metric"] for m in rate["Metrics"] if "MetricStat" in m]
    assert sorted(m["MetricName"] for m in watched) == ["JobsCompleted", "JobsFailed"]
    assert all(m["Namespace"] == NAMESPACE and m["Dimensions"] == [
        {"Name": "Service", "Value": stack}] for m in watched)  # fmt: skip
    assert rate["Threshold"] == {"Ref": FAILURE_PERCENT}
    parameters = template["Parameters"]
    assert (
        parameters[OLDEST_JOB_S]["Default"] == 900 and parameters[FAILURE_PERCENT]["Default"] == 20
    )


def test_the_dashboard_graphs_every_metric_and_names_only_what_the_stack_has(template):
    body = props(template, DASHBOARD)["DashboardBody"]["Fn::Sub"]
    for reference in re.findall(r"\$\{([^}]+)\}", body):
        name = reference.split(".")[0]
        assert name.startswith("AWS::") or name in template["Resources"], reference
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    graphed = set()
    for widget in widgets:
        found = json.dumps(widget)
        graphed |= {name for name in UNITS if re.search(rf"\b{name}\b", found)}
    assert graphed == set(UNITS)
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(alarms_of(template))
    logs = [w["properties"]["query"] for w in widgets if w["type"] == "log"]
    assert any("by tenant" in query and API_HANDLER in query for query in logs)
    assert any("AnalysisSeconds" in query and ANALYZER in query for query in logs)


def test_tracing_is_one_parameter_for_the_api_and_every_function_with_the_right_to_send(template):
    assert template["Parameters"][TRACING]["AllowedValues"] == ["Active", "PassThrough"]
    assert template["Parameters"][TRACING]["Default"] == "Active"
    assert props(template, REST_API)["TracingEnabled"] == {"Fn::If": [TRACING_ON, True, False]}
    for name, resource in functions(template):
        assert resource["Properties"]["Tracing"] == {"Ref": TRACING}, name
        role = props(template, resource["Properties"]["Role"]["Fn::GetAtt"][0])
        (managed,) = role["ManagedPolicyArns"]
        assert managed["Fn::If"][0] == TRACING_ON
        assert managed["Fn::If"][1]["Fn::Sub"].endswith(":policy/AWSXrayWriteOnlyAccess")


def test_a_table_from_before_the_job_listing_gets_its_indexes(aws_env):
    """The local stack keeps its table across restarts: bootstrap adds the indexes it lacks."""
    with mock_aws():
        settings = load_settings()
        dynamodb = aws_client("dynamodb", settings)
        old = {key: value for key, value in table_definition(settings).items()
               if key != "GlobalSecondaryIndexes"}  # fmt: skip
        old["AttributeDefinitions"] = [{"AttributeName": "job_id", "AttributeType": "S"}]
        dynamodb.create_table(**old)
        bootstrap(settings)
        bootstrap(settings)  # and a second run leaves it as it is
        described = dynamodb.describe_table(TableName=settings.table_name)["Table"]
    assert [index["IndexName"] for index in described["GlobalSecondaryIndexes"]] == [
        TENANT_INDEX,
        TERM_INDEX,
    ]
