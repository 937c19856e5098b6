"""Smoke test of a running stack: one real clip, submitted, polled and read back over HTTP.

    python -m scripts.smoke_test --url http://127.0.0.1:8000 [--video CLIP] [--timeout 180]
    make smoke API=https://<api id>.execute-api.<region>.amazonaws.com/api/   (a deployed stack)

With ``VIDEO_JOBS_TOKEN`` set (a tenant's API token, required on AWS) every request carries it as
``Authorization: Bearer``.

Unit tests exercise the parts; this proves the assembled service answers the way the README
says, end to end (API, queue, worker, models, storage). It waits for the API to come up (so CI
can start the stack and call this at once), then prints ONE line, ``smoke: OK ...`` or
``smoke: FAILED <reason>``, and exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = ROOT / "samples" / "dog_and_woman.mp4"  # in every clone
FINAL_STATES = {"completed", "failed"}
POLL_INTERVAL_S = 0.5
REQUEST_TIMEOUT_S = 30.0


class SmokeFailure(Exception):
    """What went wrong, in one line."""


@dataclass(frozen=True)
class Outcome:
    job_id: str
    elapsed_s: float
    frames: int
    labels: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"job {self.job_id} completed in {self.elapsed_s:.1f} s, {self.frames} frames, "
            f"labels {', '.join(self.labels)}"
        )


def _missing(mapping: object, keys: tuple[str, ...], where: str) -> list[str]:
    if not isinstance(mapping, dict):
        return [f"{where} is not an object"]
    return [f"{where}.{key} is missing" for key in keys if key not in mapping]


def _frame_problems(frames: object) -> list[str]:
    if not isinstance(frames, list) or not frames:
        return ["results.frames is not a non-empty list"]
    problems = []
    for index, frame in enumerate(frames):
        problems += _missing(frame, ("timestamp_ms", "objects", "text"), f"results.frames[{index}]")
    return problems


def check_results_shape(document: object) -> list[str]:
    """What the results document lacks compared with the README's shape; empty when it fits.

    Also requires at least one detected object: the smoke clip shows cars, so an empty summary
    means the detector is not working even though the plumbing is.
    """
    problems = _missing(document, ("job_id", "results"), "document")
    if problems:
        return problems
    results = document["results"]
    problems = _missing(results, ("video", "frames", "summary"), "results")
    if problems:
        return problems
    problems += _missing(results["video"], ("width", "height", "duration_ms"), "results.video")
    problems += _frame_problems(results["frames"])
    summary = results["summary"]
    summary_problems = _missing(summary, ("objects", "text"), "results.summary")
    if not summary_problems and not summary["objects"]:
        summary_problems = ["no object was detected in any frame"]
    return problems + summary_problems


def labels_of(document: dict) -> tuple[str, ...]:
    return tuple(sorted(document["results"]["summary"]["objects"]))


def _call(session: requests.Session, method: str, url: str, **kwargs) -> requests.Response:
    try:
        return session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    except requests.RequestException as error:
        raise SmokeFailure(f"{method} {url}: {error}") from None


def _json(response: requests.Response, expected_status: int) -> dict:
    if response.status_code != expected_status:
        raise SmokeFailure(
            f"{response.request.method} {response.url} answered {response.status_code} "
            f"(expected {expected_status}): {response.text[:200]}"
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SmokeFailure(f"{response.url} did not answer a JSON object: {response.text[:200]}")
    return body


def wait_for_api(session: requests.Session, base_url: str, deadline: float) -> None:
    """Until the API answers at all (a 404 for an unknown job is an answer)."""
    probe = f"{base_url}/video/status/{uuid.uuid4()}"
    while True:
        try:
            session.get(probe, timeout=REQUEST_TIMEOUT_S)
            return
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise SmokeFailure(f"nothing answers at {base_url} (is the stack up?)") from None
            time.sleep(POLL_INTERVAL_S)
        except requests.RequestException as error:
            raise SmokeFailure(f"GET {probe}: {error}") from None


def submit(session: requests.Session, base_url: str, video: Path) -> str:
    headers = {"Content-Type": "video/mp4"}
    response = _call(
        session, "POST", f"{base_url}/video/submit", data=video.read_bytes(), headers=headers
    )
    job_id = _json(response, 202).get("job_id")
    if not job_id:
        raise SmokeFailure(f"submit answered 202 without a job_id: {response.text[:200]}")
    return job_id


def wait_until_final(
    session: requests.Session, base_url: str, job_id: str, deadline: float
) -> dict:
    """The job's status once it is completed or failed; polls until ``deadline``."""
    while True:
        status = _json(_call(session, "GET", f"{base_url}/video/status/{job_id}"), 200)
        if status.get("status") in FINAL_STATES:
            return status
        if time.monotonic() > deadline:
            raise SmokeFailure(f"job {job_id} is still {status.get('status')} at the timeout")
        time.sleep(POLL_INTERVAL_S)


def run_smoke(base_url: str, video: Path, timeout_s: float, token: str | None = None) -> Outcome:
    if not video.is_file():
        raise SmokeFailure(f"video {video} not found (the repository's clips are in samples/)")
    deadline = time.monotonic() + timeout_s
    with requests.Session() as session:
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        wait_for_api(session, base_url, deadline)
        started = time.monotonic()
        job_id = submit(session, base_url, video)
        status = wait_until_final(session, base_url, job_id, deadline)
        if status["status"] == "failed":
            raise SmokeFailure(f"job {job_id} failed: {status.get('error_message')}")
        elapsed = time.monotonic() - started
        document = _json(_call(session, "GET", f"{base_url}/video/results/{job_id}"), 200)
    problems = check_results_shape(document)
    if problems:
        raise SmokeFailure(f"job {job_id} results: {'; '.join(problems)}")
    return Outcome(job_id, elapsed, len(document["results"]["frames"]), labels_of(document))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the API's base URL")
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds, start to results")
    args = parser.parse_args(argv)
    try:
        token = os.environ.get("VIDEO_JOBS_TOKEN") or None
        outcome = run_smoke(args.url.rstrip("/"), args.video, args.timeout, token)
    except SmokeFailure as failure:
        print(f"smoke: FAILED {failure}")
        return 1
    print(f"smoke: OK {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
