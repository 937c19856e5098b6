"""JobStats: the window parameter, who sees which tenant, and a deployment without a file."""

import json

import pytest

from chalicelib.errors import BadRequest, StatsUnavailable
from chalicelib.jobs.stats import JobStats, window_minutes
from chalicelib.jobs.tenancy import PUBLIC, Caller
from chalicelib.metrics import MetricsLedger, emf

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("params", "minutes"),
    [(None, 60), ({}, 60), ({"minutes": "1"}, 1), ({"minutes": "1440"}, 1440)],
)
def test_the_window_is_minutes_from_1_to_1440(params, minutes):
    assert window_minutes(params) == minutes


@pytest.mark.parametrize(
    "params",
    [{"minutes": "0"}, {"minutes": "1441"}, {"minutes": "-5"}, {"minutes": ""}, {"minutes": "٣"},
     {"minutes": "6e1"}, {"minutes": "1" * 100}, {"since": "1"}],
)  # fmt: skip
def test_anything_else_is_a_bad_request(params):
    with pytest.raises(BadRequest):
        window_minutes(params)


@pytest.fixture
def ledger(tmp_path):
    ledger = MetricsLedger(tmp_path / "metrics.jsonl")
    for at, tenant in [(NOW - 7200, "acme"), (NOW - 60, "acme"), (NOW - 30, "zeta")]:
        ledger.append(json.dumps(emf("JobsSubmitted", 1, {}, {"tenant": tenant}, at)))
    ledger.append(json.dumps(emf("AuthRefusals", 1, {"Reason": "UnknownToken"}, {}, NOW - 5)))
    return ledger


def test_the_operator_sees_every_tenant_of_the_window(ledger):
    stats = JobStats(ledger, clock=lambda: NOW).last({"minutes": "60"}, PUBLIC)
    assert stats["tenant"] is None
    assert stats["metrics"]["JobsSubmitted"]["sum"] == 2  # the one two hours ago is out
    assert stats["metrics"]["AuthRefusals"]["sum"] == 1
    longer = JobStats(ledger, clock=lambda: NOW).last({"minutes": "180"}, PUBLIC)
    assert longer["metrics"]["JobsSubmitted"]["sum"] == 3


def test_a_tenant_sees_its_own_numbers_only(ledger):
    stats = JobStats(ledger, clock=lambda: NOW).last(None, Caller("zeta"))
    assert stats["tenant"] == "zeta" and set(stats["metrics"]) == {"JobsSubmitted"}
    assert stats["metrics"]["JobsSubmitted"]["sum"] == 1


def test_without_a_file_the_stats_are_unavailable_after_the_parameters_are_checked():
    with pytest.raises(BadRequest):
        JobStats(None).last({"minutes": "x"}, PUBLIC)
    with pytest.raises(StatsUnavailable, match="CloudWatch"):
        JobStats(None).last({}, PUBLIC)
