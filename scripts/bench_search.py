"""Search at scale: what the index costs per video hour and how long a search takes with
1,000 and 10,000 indexed jobs in one tenant (moto's DynamoDB in process, generated results).

    .venv/bin/python -m scripts.bench_search [--quick]     (also section "search" of make bench)

Each generated job is a two-minute video with six lines of text (two to four words drawn from
a 3,000-word vocabulary, common words far more often, like real signs and captions) and four
label segments (car in a third of the jobs, person in half, and others). One word, ``exit``, is
in 2% of the jobs, the phrase ``emergency exit`` in 1%. Searches go through ``VideoSearch`` and
``DynamoSearchIndex``, exactly as ``GET /video/search`` does, without HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

VIDEO_S = 120
LINES, LABELS = 6, 4
OTHER_LABELS = ("dog", "bicycle", "truck", "bus", "chair", "bottle", "cup", "tv")
QUERIES = {
    "word (exit)": {"text": "exit"},
    "phrase (emergency exit)": {"text": "emergency exit"},
    "2 labels within 5 s (car, person)": {"label": "car,person", "within_ms": "5000"},
}
REPEATS = 15


def _document(rng: random.Random, number: int) -> dict[str, Any]:
    texts = []
    for _ in range(LINES):
        words = [f"w{int(rng.paretovariate(1.1)) % 3000}" for _ in range(rng.randint(2, 4))]
        if number % 100 == 0:
            words = ["emergency", "exit", *words]
        elif number % 50 == 0:
            words = ["exit", *words]
        start = rng.randrange(0, VIDEO_S * 1000, 1000)
        texts.append(
            {
                "text": " ".join(words).upper(),
                "start_ms": start,
                "end_ms": start + rng.randrange(0, 8000, 1000),
                "max_confidence": 0.9,
            }
        )
    names = ["car"] * (number % 3 == 0) + ["person"] * (number % 2 == 0)
    names += rng.sample(OTHER_LABELS, LABELS - len(names))
    objects = []
    for name in names:
        start = rng.randrange(0, VIDEO_S * 1000, 1000)
        objects.append(
            {"label": name, "start_ms": start, "end_ms": start + 10_000, "max_confidence": 0.7}
        )
    return {"text": texts, "objects": objects}


def _item_bytes(item: dict[str, dict[str, str]]) -> int:
    """DynamoDB's item size: names and values in UTF-8 (a number counted as its digits)."""
    return sum(
        len(name.encode()) + len(next(iter(value.values())).encode())
        for name, value in item.items()
    )


def _index(search: Any, jobs: int, start: int, rng: random.Random) -> None:
    from chalicelib.search.terms import job_postings
    from tests.support.search import a_job

    for number in range(start, jobs):
        created = (
            f"2026-12-07T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}.000Z"
        )
        job = replace(a_job("acme", created), pipeline_id="yolo_ocr")
        search.index.put(
            job.job_id, job.tenant, job_postings(job, _document(rng, number)), job.expires_at
        )


def _latency(search: Any, params: dict[str, Any]) -> tuple[float, float, int]:
    from chalicelib.jobs.tenancy import Caller

    times, hits = [], 0
    for _ in range(REPEATS):
        began = time.perf_counter()
        hits = len(search.search({**params, "limit": "20"}, Caller("acme"))["hits"])
        times.append(time.perf_counter() - began)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], hits


def measure(sizes: tuple[int, ...]) -> dict[str, Any]:
    """Index generated jobs up to each size; the index's size per video hour (at the first
    size) and each query's latency at every size."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        VIDEO_JOBS_STAGE="test",
    )
    os.environ.pop("VIDEO_JOBS_AWS_ENDPOINT", None)
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.storage import LocalStorage
    from chalicelib.config import load_settings
    from chalicelib.search.dynamo import DynamoSearchIndex
    from chalicelib.search.service import VideoSearch
    from infra.resources import ensure_table

    report: dict[str, Any] = {"latency": {}}
    rng = random.Random(27)
    with mock_aws(), LocalStorage.temporary() as storage:
        settings = load_settings()
        ensure_table(settings)
        index = DynamoSearchIndex(settings.table_name, region=settings.region)
        search = VideoSearch(index=index, storage=storage, signing_key=b"bench")
        done = 0
        for size in sizes:
            began = time.perf_counter()
            _index(search, size, done, rng)
            per_job_s = (time.perf_counter() - began) / (size - done)
            print(f"search: {size} jobs indexed, {per_job_s * 1000:.0f} ms a job; querying",
                  file=sys.stderr, flush=True)  # fmt: skip
            done = size
            if "bytes" not in report:
                pages = boto3.client("dynamodb").get_paginator("scan")
                items = [
                    i
                    for page in pages.paginate(TableName=settings.table_name)
                    for i in page["Items"]
                ]
                hours = size * VIDEO_S / 3600
                report.update(
                    items_per_hour=len(items) / hours,
                    bytes_per_hour=sum(map(_item_bytes, items)) / hours,
                    items_per_job=len(items) / size,
                    index_s_per_job=per_job_s,
                )
            report["latency"][size] = {
                name: _latency(search, params) for name, params in QUERIES.items()
            }
    return report


def search_section(report: Any, quick: bool) -> None:
    """``make bench``'s section: the numbers as tables."""
    sizes = (1_000,) if quick else (1_000, 10_000)
    report.section("10. Search: index size per video hour, query latency (moto DynamoDB)")
    found = measure(sizes)
    report.table(
        [
            "index items / video hour",
            "index KB / video hour",
            "items / job",
            "index write / job (ms)",
        ],
        [
            [
                f"{found['items_per_hour']:.0f}",
                f"{found['bytes_per_hour'] / 1000:.1f}",
                f"{found['items_per_job']:.1f}",
                f"{found['index_s_per_job'] * 1000:.1f}",
            ]
        ],
    )
    rows = [
        [f"{size:,}", name, f"{median * 1000:.0f}", f"{p95 * 1000:.0f}", hits]
        for size, queries in found["latency"].items()
        for name, (median, p95, hits) in queries.items()
    ]
    report.table(["indexed jobs", "query", "median ms", "p95 ms", "hits on page 1"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs only")
    args = parser.parse_args(argv)
    sizes = (1_000,) if args.quick else (1_000, 10_000)
    print(json.dumps(measure(sizes), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
