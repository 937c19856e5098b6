"""The cost model of make bench section 7b: one vCPU's seconds are the 1-CPU process's CPU
seconds; other sizes follow Amdahl's law through the speed-up measured on 2 CPUs."""

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


def measured(wall1: float, wall2: float | None, cpu1: float = 0.2) -> Measured:
    walls = {1: wall1} if wall2 is None else {1: wall1, 2: wall2}
    return Measured(100.0, walls, {1: cpu1, 2: cpu1}, {n: n for n in walls})


def test_amdahl_goes_through_one_cpus_cpu_time_and_the_speed_up():
    model = measured(0.6, 0.375)  # 1.6x on 2 CPUs, measured on a busy machine
    assert model.speed_up == pytest.approx(1.6) and model.serial_share == pytest.approx(0.25)
    assert model.seconds_at(1.0) == 0.2  # its CPU seconds, not the stretched wall time
    assert model.seconds_at(2.0) == pytest.approx(0.2 / 1.6)
    assert model.seconds_at(4.0) == pytest.approx(0.2 * (0.25 + 0.75 / 4))


def test_a_dollar_figure_is_billed_seconds_times_gigabytes_plus_requests():
    (row,) = cost_rows(measured(0.5, 0.3, cpu1=0.25), sizes=[1769])
    assert row.basis == "1 CPU" and row.vcpus == 1.0 and row.per_video_s == 0.25
    expected = 0.25 * 3600 * 1769 / 1024 * LAMBDA_GB_S + 60 * LAMBDA_REQUEST
    assert row.dollars_per_video_hour == pytest.approx(expected)


@pytest.mark.parametrize("wall2", [0.21, 0.3, 0.39])  # any speed-up short of 2x
def test_one_vcpu_is_cheapest_and_the_largest_size_fastest(wall2):
    rows = cost_rows(measured(0.4, wall2))
    assert cheapest_and_fastest(rows) == (DEFAULT_ANALYZER_MEMORY_MB, {10240})
    law = "Amdahl's law"
    assert [row.basis for row in rows] == ["1 CPU", law, "1 CPU / speed-up", law, law]


def test_no_speed_up_makes_every_size_as_fast_and_one_cpu_leaves_blanks():
    # a 2-CPU time above the 1-CPU one is load, not a slower job: the serial share stops at 1
    everything = {1769, 3008, 3538, 5308, 10240}
    assert cheapest_and_fastest(cost_rows(measured(0.4, 0.45)))[1] == everything
    rows = cost_rows(measured(0.4, None))
    assert [row.dollars_per_video_hour is None for row in rows] == [False] + [True] * 4


def test_lambda_shows_2_cpus_up_to_3008_mb_and_6_at_the_top():
    assert [visible_vcpus(mb) for mb in (128, 1769, 3008, 3009, 5308, 10240)] == [2, 2, 2, 2, 4, 6]


def test_the_queue_cycles_the_clips_in_a_fixed_order(tmp_path):
    clips = [tmp_path / name for name in ("b.mp4", "a.mp4", "c.mp4")]
    assert [p.name for p in job_queue(clips, 7)] == ["a.mp4", "b.mp4", "c.mp4"] * 2 + ["a.mp4"]
