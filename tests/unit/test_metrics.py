"""EMF lines (the shape CloudWatch turns into metrics), the local ledger, and the summary that
GET /video/stats shows."""

import json

import pytest

from chalicelib.metrics import NAMESPACE, Metrics, MetricsLedger, emf, printer, summarize

NOW = 1_780_000_000.0


def test_a_measurement_is_one_emf_line_with_the_tenant_as_a_property():
    lines: list[str] = []
    metrics = Metrics(lines.append, clock=lambda: NOW)
    metrics.put("JobsFailed", 1, {"Pipeline": "yolo", "ErrorCode": "InputMissing"},
                tenant="acme", job_id="j1", request_id=None)  # fmt: skip
    (line,) = lines
    entry = json.loads(line)
    assert entry["_aws"] == {
        "Timestamp": int(NOW * 1000),
        "CloudWatchMetrics": [
            {
                "Namespace": NAMESPACE,
                "Dimensions": [["Service"], ["Service", "Pipeline"], ["Service", "ErrorCode"]],
                "Metrics": [{"Name": "JobsFailed", "Unit": "Count"}],
            }
        ],
    }
    assert entry["Service"] == "video-jobs" and entry["JobsFailed"] == 1
    assert entry["tenant"] == "acme" and entry["job_id"] == "j1" and "request_id" not in entry


@pytest.mark.parametrize(
    ("name", "dimensions"), [("JobsDone", {}), ("JobsFailed", {"Tenant": "acme"})]
)
def test_unknown_metrics_and_dimensions_are_refused(name, dimensions):
    with pytest.raises(ValueError, match="unknown metric"):
        emf(name, 1, dimensions, {}, NOW)


def test_without_a_writer_nothing_is_written_and_nothing_fails():
    Metrics().put("JobsSubmitted", 1)


def test_the_ledger_keeps_lines_of_the_window_across_one_rotation(tmp_path):
    lines = [json.dumps(emf("FramesAnalyzed", n, {}, {}, NOW + n)) for n in range(5)]
    ledger = MetricsLedger(tmp_path / "m.jsonl", max_bytes=2 * len(lines[0]) + 1)
    for line in lines:  # rotated after the second and the fourth: one older file is kept
        ledger.append(line)
    with ledger.path.open("a") as damaged:
        damaged.write('not json\n{"_aws": 1}\n')
    assert [entry["FramesAnalyzed"] for entry in ledger.lines(since=0)] == [2, 3, 4]
    assert [entry["FramesAnalyzed"] for entry in ledger.lines(since=NOW + 3)] == [3, 4]


def test_printer_writes_stdout_and_the_ledger(tmp_path, capsys):
    ledger = MetricsLedger(tmp_path / "m.jsonl")
    printer(ledger)("{}")
    assert capsys.readouterr().out == "{}\n" and ledger.path.read_text() == "{}\n"


def entries():
    def line(name, value, dimensions=None, **properties):
        return emf(name, value, dimensions or {}, properties, NOW)

    return [
        *(line("QueueWaitSeconds", float(n), tenant="acme") for n in range(1, 21)),
        line("JobsFailed", 1, {"ErrorCode": "InputMissing"}, tenant="acme"),
        line("JobsFailed", 1, {"ErrorCode": "InternalError"}, tenant="zeta"),
        line("JobsFailed", 1, {"ErrorCode": "InputMissing"}, tenant="zeta"),
        line("AuthRefusals", 1, {"Reason": "MissingToken"}),
    ]


def test_the_summary_counts_sums_and_takes_percentiles():
    found = summarize(entries())
    wait = found["QueueWaitSeconds"]
    assert (wait["count"], wait["sum"], wait["p50"], wait["p95"], wait["max"]) == (
        20, 210.0, 10.0, 19.0, 20.0
    )  # fmt: skip
    assert found["JobsFailed"]["by"] == {"ErrorCode": {"InputMissing": 2, "InternalError": 1}}
    assert found["AuthRefusals"]["sum"] == 1 and "p95" not in found["AuthRefusals"]


def test_a_tenant_sees_only_its_own_lines():
    found = summarize(entries(), tenant="zeta")
    assert set(found) == {"JobsFailed"}  # no queue waits of acme, no refusals of nobody
    assert found["JobsFailed"]["by"] == {"ErrorCode": {"InternalError": 1, "InputMissing": 1}}
