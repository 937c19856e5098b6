"""Operations on the live local stack: ``make smoke``'s test against it, the metrics every
process prints as EMF lines (make run's terminal) and keeps in its state directory, and what
GET /video/stats and ``video-jobs stats`` show of them, with auth off and required."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from chalicelib.metrics import UNITS
from tests.support.stack import bearer, keys_cli, local_stack

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
JOB_METRICS = {"JobsSubmitted", "JobsCompleted", "AnalysisSeconds", "SecondsPerVideoMinute",
               "FramesAnalyzed", "QueueWaitSeconds", "SlicesPerJob"}  # fmt: skip


def smoke(base: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "VIDEO_JOBS_TOKEN": token or ""}
    return subprocess.run(
        [sys.executable, "-m", "scripts.smoke_test", "--url", base, "--timeout", "240"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def emf_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_a_smoke_job_shows_in_the_terminal_the_stats_and_the_cli(model_path, tmp_path):
    with local_stack(tmp_path) as stack:
        done = smoke(stack.base)
        assert done.returncode == 0 and done.stdout.startswith("smoke: OK"), done.stdout
        printed = emf_lines(stack.output())  # the stack's own terminal output
        assert {name for line in printed for name in UNITS if name in line} >= JOB_METRICS
        kept = emf_lines((stack.state_dir / "metrics.jsonl").read_text())
        assert sorted(map(json.dumps, kept)) == sorted(map(json.dumps, printed))
        answer = requests.get(f"{stack.base}/video/stats?minutes=5", timeout=10)
        assert answer.status_code == 200
        stats = answer.json()["metrics"]
        assert set(stats) >= JOB_METRICS
        assert stats["JobsSubmitted"]["sum"] == stats["JobsCompleted"]["sum"] == 1
        assert stats["FramesAnalyzed"]["sum"] > 0
        assert requests.get(f"{stack.base}/video/stats?minutes=x", timeout=10).status_code == 400
        cli = subprocess.run(
            [sys.executable, "-m", "video_jobs_cli", "--api", stack.base, "stats"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert cli.returncode == 0 and cli.stdout.startswith("last 60 minutes (every tenant)")
        assert "JobsCompleted" in cli.stdout and "  Pipeline=yolo_ocr" in cli.stdout


def test_with_auth_required_a_tenant_sees_its_own_numbers(model_path, tmp_path):
    with local_stack(tmp_path, {"VIDEO_JOBS_AUTH": "required"}) as stack:
        acme, zeta = (keys_cli(stack, "create", "--tenant", name)[0] for name in ("acme", "zeta"))
        assert smoke(stack.base).returncode == 1  # no token: refused
        done = smoke(stack.base, acme["api_token"])
        assert done.returncode == 0, done.stdout
        mine = requests.get(f"{stack.base}/video/stats", headers=bearer(acme), timeout=10).json()
        assert mine["tenant"] == "acme" and mine["metrics"]["JobsCompleted"]["sum"] == 1
        assert "AuthRefusals" not in mine["metrics"]  # nobody's: the operator's
        theirs = requests.get(f"{stack.base}/video/stats", headers=bearer(zeta), timeout=10)
        assert theirs.json() == {"minutes": 60, "tenant": "zeta", "metrics": {}}
        assert requests.get(f"{stack.base}/video/stats", timeout=10).status_code == 401
        kept = emf_lines((stack.state_dir / "metrics.jsonl").read_text())
        refusals = [line["Reason"] for line in kept if "AuthRefusals" in line]
        assert refusals and set(refusals) == {"MissingToken"}
