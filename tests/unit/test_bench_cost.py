"""The cost model of make bench section 9: Amdahl through the 1- and 2-CPU times, Lambda's price."""

import pytest

from infra.cloud_template import DEFAULT_ANALYZER_MEMORY_MB
from scripts.bench_cost import (
    LAMBDA_GB_S,
    LAMBDA_REQUEST,
    Measured,
    cheapest_and_fastest,
    cost_rows,
    visible_vcpus,
)
from scripts.bench_throughput import job_queue


def measured(t1: float, t2: float | None) -> Measured:
    times = {1: t1} if t2 is None else {1: t1, 2: t2}
    return Measured(100.0, times, dict(times), {n: n for n in times})


def test_amdahl_goes_through_both_measured_points():
    model = measured(0.4, 0.25)  # 1.6x on 2 CPUs: a quarter of the work is serial
    assert model.serial_share == pytest.approx(0.25)
    assert model.seconds_at(1.0) == 0.4 and model.seconds_at(2.0) == 0.25
    assert model.seconds_at(4.0) == pytest.approx(0.4 * (0.25 + 0.75 / 4))


def test_a_dollar_figure_is_billed_seconds_times_gigabytes_plus_requests():
    (row,) = cost_rows(measured(0.5, 0.3), sizes=[1769])
    assert row.basis == "measured" and row.vcpus == 1.0
    expected = 0.5 * 3600 * 1769 / 1024 * LAMBDA_GB_S + 60 * LAMBDA_REQUEST
    assert row.dollars_per_video_hour == pytest.approx(expected)


@pytest.mark.parametrize("t2", [0.21, 0.3, 0.39])  # any speed-up short of 2x
def test_one_vcpu_is_cheapest_and_the_largest_size_fastest(t2):
    rows = cost_rows(measured(0.4, t2))
    assert cheapest_and_fastest(rows) == (DEFAULT_ANALYZER_MEMORY_MB, {10240})
    fitted, measured_ = "Amdahl fit", "measured"
    assert [row.basis for row in rows] == [measured_, fitted, measured_, fitted, fitted]


def test_no_speed_up_makes_every_size_as_fast_and_one_cpu_leaves_blanks():
    # a 2-CPU time above the 1-CPU one is load, not a slower job: the serial share stops at 1,
    # and 3538 MB shows what was measured
    assert cheapest_and_fastest(cost_rows(measured(0.4, 0.45)))[1] == {1769, 3008, 5308, 10240}
    rows = cost_rows(measured(0.4, None))
    assert [row.dollars_per_video_hour is None for row in rows] == [False] + [True] * 4


def test_lambda_shows_2_cpus_up_to_3008_mb_and_6_at_the_top():
    assert [visible_vcpus(mb) for mb in (128, 1769, 3008, 3009, 5308, 10240)] == [2, 2, 2, 2, 4, 6]


def test_the_queue_cycles_the_clips_in_a_fixed_order(tmp_path):
    clips = [tmp_path / name for name in ("b.mp4", "a.mp4", "c.mp4")]
    assert [p.name for p in job_queue(clips, 7)] == ["a.mp4", "b.mp4", "c.mp4"] * 2 + ["a.mp4"]
