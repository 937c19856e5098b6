"""ONE contract for a tenant's listing, cancel and remove, run against every JobStore (DynamoDB
on moto, through the tenant-created index; and in memory)."""

from dataclasses import replace

import pytest

from chalicelib.errors import IllegalTransition, JobNotFound
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import CANCELLED, COMPLETED, FAILED, PENDING, UPLOADING, JobRecord
from chalicelib.jobs.store import InMemoryJobStore, JobWindow
from chalicelib.jobs.tenancy import Caller


@pytest.fixture(params=["dynamodb", "memory"])
def jobs(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("aws").jobs
    return InMemoryJobStore()


def stored(jobs, tenant: str, created_at: str, **fields) -> JobRecord:
    """A job of ``tenant`` created at ``created_at`` (distinct times: the order is defined)."""
    job = JobRecord.new(new_job_id(), input_path="video_jobs/x.mp4", pipeline_id="yolo_ocr",
                        retention_days=1, tenant=tenant)  # fmt: skip
    job = replace(job, created_at=created_at, updated_at=created_at, **fields)
    jobs.create(job)
    return job


def day(n: int) -> str:
    return f"2026-12-{n:02d}T10:00:00.000Z"


@pytest.fixture
def library(jobs):
    """Five jobs of acme on days 1..5 (day 2 failed, day 4 of the shots pipeline), two of
    globex in between."""
    mine = [
        stored(jobs, "acme", day(1)),
        stored(jobs, "acme", day(2), status=FAILED, error_message="boom"),
        stored(jobs, "acme", day(3)),
        stored(jobs, "acme", day(4), pipeline_id="shots"),
        stored(jobs, "acme", day(5)),
    ]
    theirs = [stored(jobs, "globex", day(2)), stored(jobs, "globex", day(6))]
    return mine, theirs


def ids(found) -> list[str]:
    return [job.job_id for job in found]


def test_a_tenant_sees_its_own_jobs_newest_first(jobs, library):
    mine, theirs = library
    assert ids(jobs.newest("acme", JobWindow(), 10)) == ids(reversed(mine))
    assert ids(jobs.newest("globex", JobWindow(), 10)) == ids(reversed(theirs))
    assert jobs.newest("initech", JobWindow(), 10) == []


def test_pages_follow_on_from_the_last_job_shown(jobs, library):
    mine, _ = library
    first = jobs.newest("acme", JobWindow(), 2)
    cursor = (first[-1].created_at, first[-1].job_id)
    second = jobs.newest("acme", JobWindow(), 2, cursor)
    last = jobs.newest("acme", JobWindow(), 2, (second[-1].created_at, second[-1].job_id))
    assert ids(first + second + last) == ids(reversed(mine))


def test_filters_by_status_pipeline_and_inclusive_creation_bounds(jobs, library):
    mine, _ = library
    assert ids(jobs.newest("acme", JobWindow(status=FAILED), 10)) == [mine[1].job_id]
    assert ids(jobs.newest("acme", JobWindow(pipeline_id="shots"), 10)) == [mine[3].job_id]
    window = JobWindow(created_after=day(2), created_before=day(4))
    assert ids(jobs.newest("acme", window, 10)) == ids([mine[3], mine[2], mine[1]])
    assert ids(jobs.newest("acme", JobWindow(created_after=day(5)), 10)) == [mine[4].job_id]
    assert ids(jobs.newest("acme", JobWindow(created_before=day(1)), 10)) == [mine[0].job_id]
    both = JobWindow(status=PENDING, created_before=day(3))
    assert ids(jobs.newest("acme", both, 10)) == ids([mine[2], mine[0]])


def test_a_filtered_page_is_full_even_when_the_filter_skips_rows(jobs, library):
    mine, _ = library
    found = jobs.newest("acme", JobWindow(status=PENDING), 2)
    assert ids(found) == ids([mine[4], mine[3]])
    rest = jobs.newest(
        "acme", JobWindow(status=PENDING), 5, (found[-1].created_at, found[-1].job_id)
    )
    assert ids(rest) == ids([mine[2], mine[0]])


@pytest.mark.parametrize("status", [UPLOADING, PENDING])
def test_an_unfinished_job_is_cancelled_and_stays_cancelled(jobs, status):
    job = stored(jobs, "acme", day(1), status=status)
    assert jobs.cancel(job.job_id).status == CANCELLED
    assert jobs.get(job.job_id).status == CANCELLED
    with pytest.raises(IllegalTransition):
        jobs.cancel(job.job_id)
    with pytest.raises(IllegalTransition):
        jobs.claim(job.job_id, "w", lease_s=60)


def test_a_running_job_is_cancelled_and_its_worker_loses_the_lease(jobs):
    job = stored(jobs, "acme", day(1))
    jobs.claim(job.job_id, "w", lease_s=60)
    assert jobs.cancel(job.job_id).status == CANCELLED
    with pytest.raises(IllegalTransition):
        jobs.renew_lease(job.job_id, "w", 60)
    with pytest.raises(IllegalTransition):
        jobs.complete(job.job_id, owner="w", output_path="video_jobs/r.json")
    assert jobs.get(job.job_id).status == CANCELLED


def test_an_ended_job_cannot_be_cancelled(jobs):
    job = stored(jobs, "acme", day(1), status=COMPLETED)
    with pytest.raises(IllegalTransition, match="cannot go to cancelled: it is completed"):
        jobs.cancel(job.job_id)


@pytest.mark.parametrize("status", [COMPLETED, FAILED, CANCELLED])
def test_an_ended_job_is_removed_once(jobs, status):
    job = stored(jobs, "acme", day(1), status=status)
    assert jobs.remove(job.job_id) is True
    assert jobs.find(job.job_id) is None
    assert jobs.newest("acme", JobWindow(), 10) == []
    with pytest.raises(JobNotFound):
        jobs.get(job.job_id, Caller("acme"))
    assert jobs.remove(job.job_id) is False


@pytest.mark.parametrize("status", [UPLOADING, PENDING])
def test_an_unfinished_job_is_never_removed(jobs, status):
    job = stored(jobs, "acme", day(1), status=status)
    with pytest.raises(IllegalTransition, match=f"cannot be removed: it is {status}"):
        jobs.remove(job.job_id)
    assert jobs.get(job.job_id).status == status
