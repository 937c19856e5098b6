"""``make run WORKERS=N THREADS=T``: how many analyzer processes, how many threads each, and what
garbage gets (a usage error naming the setting, never a traceback)."""

import sys

import pytest

from chalicelib.analysis.registry import default_workers, usable_cpus
from chalicelib.config import MAX_ANALYZER_THREADS, load_settings
from infra import local_stack


@pytest.mark.parametrize("garbage", ["0", "-1", "two", "1.5", "", " ", "9", "1e1"])
def test_garbage_workers_is_a_usage_error(garbage, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["local_stack", "--workers", garbage])
    with pytest.raises(SystemExit) as exited:
        local_stack.main()
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"WORKERS must be a whole number from 1 to 8, not {garbage!r}" in error


def test_garbage_threads_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["local_stack", "--threads", "lots"])
    with pytest.raises(SystemExit) as exited:
        local_stack.main()
    assert exited.value.code == 2
    assert "THREADS must be a whole number from 1 to 8, not 'lots'" in capsys.readouterr().err


@pytest.mark.parametrize("garbage", ["many", "0", "9", "-2"])
def test_a_garbage_threads_setting_is_a_usage_error_too(garbage, monkeypatch, capsys):
    monkeypatch.setenv("VIDEO_JOBS_ANALYZER_THREADS", garbage)
    monkeypatch.setattr(sys, "argv", ["local_stack"])
    with pytest.raises(SystemExit) as exited:
        local_stack.main()
    assert exited.value.code == 2
    assert f"VIDEO_JOBS_ANALYZER_THREADS is {garbage!r}" in capsys.readouterr().err


@pytest.mark.parametrize(("cpus", "workers"), [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 8)])
def test_one_worker_per_two_cpus_by_default(cpus, workers):
    assert local_stack.default_worker_count(cpus) == workers


def test_each_worker_is_a_process_with_its_share_of_threads():
    workers = local_stack.worker_components({"PATH": "/bin"}, workers=3, threads=2)
    assert [w.name for w in workers] == ["worker", "worker-2", "worker-3"]
    assert [w.argv[-1] == "--jobs-only" for w in workers] == [False, True, True]
    assert all(w.env["VIDEO_JOBS_ANALYZER_THREADS"] == "2" for w in workers)


def test_the_threads_setting_sizes_the_analyzers_pool(monkeypatch):
    monkeypatch.delenv("VIDEO_JOBS_ANALYZER_THREADS", raising=False)
    assert load_settings().analyzer_threads is None
    assert default_workers(None) == min(usable_cpus(), MAX_ANALYZER_THREADS)
    monkeypatch.setenv("VIDEO_JOBS_ANALYZER_THREADS", "3")
    assert default_workers(load_settings().analyzer_threads) == 3
