"""What an operator watches on AWS: the alarms (each with a runbook in docs/operations.md) and
one CloudWatch dashboard, added to the template by ``infra/cloud_template.py``.

The job numbers come from the functions' own EMF lines (``chalicelib/metrics.py``, namespace
``VideoJobs``, dimension ``Service`` = the stack's name); the queues, functions and the REST API
from AWS's own metrics. Every alarm notifies the stack's alarm topic.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.metrics import NAMESPACE

# Logical ids (the ones this module shares with cloud_template.py are passed in by name)
NOTICES_DLQ_ALARM = "NoticesDeadLetterAlarm"
OLDEST_JOB_ALARM = "OldestJobAlarm"
FAILURE_RATE_ALARM = "FailureRateAlarm"
ANALYZER_ERRORS_ALARM = "AnalyzerErrorsAlarm"
ANALYZER_THROTTLES_ALARM = "AnalyzerThrottlesAlarm"
API_5XX_ALARM = "Api5xxAlarm"
DASHBOARD = "OperationsDashboard"
# Parameters
OLDEST_JOB_S = "OldestJobAlarmSeconds"
FAILURE_PERCENT = "FailureRateAlarmPercent"

DEFAULT_OLDEST_JOB_S = 900  # a job waiting 15 minutes for a worker: the analyzers cannot keep up
DEFAULT_FAILURE_PERCENT = 20  # of the jobs that ended in the last 15 minutes
FAILURE_RATE_MIN_JOBS = 5  # fewer ended jobs than this never raise the failure-rate alarm
ANALYZER_ERRORS_PER_15_MIN = 3  # invocations that raised (internal errors, timeouts)
API_5XX_PER_5_MIN = 5
STACK = "${AWS::StackName}"


def parameters() -> dict[str, dict]:
    return {
        OLDEST_JOB_S: {
            "Type": "Number",
            "Default": DEFAULT_OLDEST_JOB_S,
            "MinValue": 60,
            "Description": "Alarm when the oldest job message has waited this long (seconds)",
        },
        FAILURE_PERCENT: {
            "Type": "Number",
            "Default": DEFAULT_FAILURE_PERCENT,
            "MinValue": 1,
            "MaxValue": 100,
            "Description": "Alarm when this percentage of the jobs ended in 15 minutes failed "
            f"(with at least {FAILURE_RATE_MIN_JOBS} ended)",
        },
    }


def _alarm(name: str, description: str, topic: str, **metric: Any) -> dict:
    """An alarm named ``<stack>-<name>`` that notifies ``topic`` when it fires and clears."""
    properties = {
        "AlarmName": {"Fn::Sub": f"{STACK}-{name}"},
        "AlarmDescription": f"{description} Runbook: docs/operations.md#{name.lower()}",
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": topic}],
        "OKActions": [{"Ref": topic}],
        **metric,
    }
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}


def _function(logical_id: str) -> list[dict]:
    return [{"Name": "FunctionName", "Value": {"Fn::Sub": f"{STACK}-{logical_id}"}}]


def _ours(metric_name: str, stat: str = "Sum") -> dict:
    """One of the VideoJobs metrics of this stack, summed over 15 minutes."""
    return {
        "Metric": {
            "Namespace": NAMESPACE,
            "MetricName": metric_name,
            "Dimensions": [{"Name": "Service", "Value": {"Ref": "AWS::StackName"}}],
        },
        "Period": 900,
        "Stat": stat,
    }


def alarm_resources(*, topic: str, notices_dlq: str, queue: str, analyzer: str) -> dict:
    """The alarms beside the job dead-letter alarm (cloud_template.ALARM)."""
    failed, ended = "FILL(m1, 0)", "(FILL(m1, 0) + FILL(m2, 0))"  # no line: no job
    rate = f"IF({ended} >= {FAILURE_RATE_MIN_JOBS}, 100 * {failed} / {ended}, 0)"
    return {
        NOTICES_DLQ_ALARM: _alarm(
            "notices-dead-letters", "A webhook notice was given up on and dead-lettered.", topic,
            Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
            Dimensions=[{"Name": "QueueName", "Value": {"Fn::GetAtt": [notices_dlq, "QueueName"]}}],
            Statistic="Maximum", Period=300, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        ),
        OLDEST_JOB_ALARM: _alarm(
            "oldest-job", "The oldest job message has waited too long for an analyzer.", topic,
            Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            Statistic="Maximum", Period=300, Threshold={"Ref": OLDEST_JOB_S},
            ComparisonOperator="GreaterThanThreshold",
        ),
        FAILURE_RATE_ALARM: _alarm(
            "failure-rate", "Too many of the jobs that ended in 15 minutes failed.", topic,
            Metrics=[
                {"Id": "m1", "MetricStat": _ours("JobsFailed"), "ReturnData": False},
                {"Id": "m2", "MetricStat": _ours("JobsCompleted"), "ReturnData": False},
                {"Id": "rate", "Expression": rate, "Label": "failed %", "ReturnData": True},
            ],
            Threshold={"Ref": FAILURE_PERCENT}, ComparisonOperator="GreaterThanThreshold",
        ),
        ANALYZER_ERRORS_ALARM: _alarm(
            "analyzer-errors", "Analyzer invocations raised (internal errors, timeouts).", topic,
            Namespace="AWS/Lambda", MetricName="Errors", Dimensions=_function(analyzer),
            Statistic="Sum", Period=900, Threshold=ANALYZER_ERRORS_PER_15_MIN,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
        ANALYZER_THROTTLES_ALARM: _alarm(
            "analyzer-throttles", "Lambda refused analyzer invocations (concurrency).", topic,
            Namespace="AWS/Lambda", MetricName="Throttles", Dimensions=_function(analyzer),
            Statistic="Sum", Period=300, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        ),
        API_5XX_ALARM: _alarm(
            "api-5xx", "The REST API answered 5xx (internal errors, dependency outages).", topic,
            Namespace="AWS/ApiGateway", MetricName="5XXError",
            Dimensions=[{"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}},
                        {"Name": "Stage", "Value": "api"}],
            Statistic="Sum", Period=300, Threshold=API_5XX_PER_5_MIN,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        ),
    }  # fmt: skip


ALARMS = (
    NOTICES_DLQ_ALARM, OLDEST_JOB_ALARM, FAILURE_RATE_ALARM, ANALYZER_ERRORS_ALARM,
    ANALYZER_THROTTLES_ALARM, API_5XX_ALARM,
)  # fmt: skip


def _graph(title: str, metrics: list[list], stat: str = "Sum", period: int = 300) -> dict:
    return {
        "type": "metric",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title, "region": "${AWS::Region}", "view": "timeSeries",
            "stat": stat, "period": period, "metrics": metrics,
        },
    }  # fmt: skip


def _job_metric(name: str, **options: Any) -> list:
    return [NAMESPACE, name, "Service", STACK, *([options] if options else [])]


def _search(name: str, dimension: str, stat: str = "Sum") -> list:
    query = f'{{{NAMESPACE},Service,{dimension}}} MetricName="{name}" Service="{STACK}"'
    return [{"expression": f"SEARCH('{query}', '{stat}', 3600)", "id": name[:1].lower() + "s"}]


def _logs(title: str, log_group: str, query: str) -> dict:
    source = f"SOURCE '/aws/lambda/{STACK}-{log_group}'"
    return {
        "type": "log",
        "width": 12,
        "height": 6,
        "properties": {
            "title": title, "region": "${AWS::Region}", "view": "table",
            "query": f"{source} | {query}",
        },
    }  # fmt: skip


def dashboard_widgets(
    *, queue: str, notices_dlq: str, dead_letter_alarm: str, analyzer: str, api: str
) -> list:
    """The headline graphs, then where the time, the failures and the bill go, then every
    alarm's state."""
    queue_name = f"${{{queue}.QueueName}}"
    alarms = [f"${{{name}.Arn}}" for name in (dead_letter_alarm, *ALARMS)]
    return [
        _graph(
            "Jobs per hour",
            [
                _job_metric(n)
                for n in ("JobsSubmitted", "JobsCompleted", "JobsFailed", "JobsCancelled")
            ],
            period=3600,
        ),
        _graph(
            "Analysis seconds (p50, p95), per video minute (p95), a model's validation (p95)",
            [
                _job_metric("AnalysisSeconds", stat="p50"),
                _job_metric("AnalysisSeconds", stat="p95"),
                _job_metric("SecondsPerVideoMinute", stat="p95"),
                _job_metric("ModelValidationSeconds", stat="p95"),
            ],
            stat="p95",
        ),
        _graph(
            "Waiting jobs: oldest message age (s), queue wait p95 (s), messages",
            [
                [
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    "QueueName",
                    queue_name,
                    {"stat": "Maximum"},
                ],
                _job_metric("QueueWaitSeconds", stat="p95"),
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    queue_name,
                    {"stat": "Maximum", "yAxis": "right"},
                ],
            ],
            stat="Maximum",
        ),
        _graph(
            "Failed jobs per hour by error code", _search("JobsFailed", "ErrorCode"), period=3600
        ),
        _graph(
            "Frames analyzed and slices per job",
            [
                _job_metric("FramesAnalyzed"),
                _job_metric("SlicesPerJob", stat="Average"),
            ],
        ),
        _graph(
            "Webhook attempts by outcome, dead-lettered",
            [
                *_search("NoticeAttempts", "Outcome"),
                _job_metric("NoticesDeadLettered"),
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    f"${{{notices_dlq}.QueueName}}",
                    {"stat": "Maximum"},
                ],
            ],
        ),
        _graph("Auth refusals by reason", _search("AuthRefusals", "Reason"), period=3600),
        _graph(
            "Analyzer: errors, throttles, concurrency; duration p95 (ms)",
            [
                ["AWS/Lambda", "Errors", "FunctionName", f"{STACK}-{analyzer}"],
                ["AWS/Lambda", "Throttles", "FunctionName", f"{STACK}-{analyzer}"],
                [
                    "AWS/Lambda",
                    "ConcurrentExecutions",
                    "FunctionName",
                    f"{STACK}-{analyzer}",
                    {"stat": "Maximum"},
                ],
                [
                    "AWS/Lambda",
                    "Duration",
                    "FunctionName",
                    f"{STACK}-{analyzer}",
                    {"stat": "p95", "yAxis": "right"},
                ],
            ],
        ),
        _graph(
            "REST API: 4xx, 5xx; latency p95 (ms)",
            [
                ["AWS/ApiGateway", "4XXError", "ApiName", STACK, "Stage", "api"],
                ["AWS/ApiGateway", "5XXError", "ApiName", STACK, "Stage", "api"],
                [
                    "AWS/ApiGateway",
                    "Latency",
                    "ApiName",
                    STACK,
                    "Stage",
                    "api",
                    {"stat": "p95", "yAxis": "right"},
                ],
            ],
        ),
        _logs(
            "Top tenants by analysis seconds (the bill)",
            analyzer,
            "filter ispresent(AnalysisSeconds) | stats sum(AnalysisSeconds) as seconds, "
            "sum(FramesAnalyzed) as frames by tenant | sort seconds desc | limit 10",
        ),
        _logs(
            "Top tenants by jobs submitted",
            api,
            "filter ispresent(JobsSubmitted) | stats sum(JobsSubmitted) as jobs by tenant "
            "| sort jobs desc | limit 10",
        ),
        {
            "type": "alarm",
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": alarms},
        },  # fmt: skip
    ]


def dashboard_resource(widgets: list[dict]) -> dict:
    """One dashboard named after the stack; its body is a Fn::Sub template (``${...}``)."""
    return {
        DASHBOARD: {
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": {"Fn::Sub": f"{STACK}-operations"},
                "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets})},
            },
        }
    }
