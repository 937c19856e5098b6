"""ONE contract, run against every JobStore implementation (DynamoDB on moto, and in memory)."""

import time

import pytest

from chalicelib.errors import IllegalTransition, JobNotFound
from chalicelib.intake.idempotency import KeyRecord
from chalicelib.jobs.dynamo import DynamoJobStore
from chalicelib.jobs.ids import new_job_id
from chalicelib.jobs.record import COMPLETED, FAILED, PENDING, RUNNING, UPLOADING, JobRecord
from chalicelib.jobs.store import InMemoryJobStore
from infra.resources import bootstrap
from tests.support.jobs import new_job


@pytest.fixture(params=["dynamodb", "memory"])
def jobs(request):
    if request.param == "dynamodb":
        return request.getfixturevalue("aws").jobs
    return InMemoryJobStore()


def test_new_job_round_trips(jobs):
    job = new_job(jobs, sample_fps=2.5)
    stored = jobs.get(job.job_id)
    assert stored == job
    assert (stored.status, stored.pipeline_id, stored.input_path, stored.sample_fps) == (
        PENDING,
        "yolo_ocr",
        f"video_jobs/{job.job_id}.mp4",
        2.5,
    )
    assert stored.created_at.endswith("Z") and stored.created_at == stored.updated_at
    assert stored.options == {} and stored.attempts == 0


def test_options_round_trip_as_one_attribute(jobs):
    job = JobRecord.new(
        new_job_id(),
        input_path="video_jobs/x.mp4",
        pipeline_id="yolo_ocr",
        retention_days=30,
        options={"callback_url": "https://example.com/hook", "labels": ["dog", "cat"]},
    )
    jobs.create(job)
    assert jobs.get(job.job_id).options == job.options


def test_what_the_library_shows_round_trips(jobs):
    job = JobRecord.new(new_job_id(), input_path="video_jobs/x.mp4", pipeline_id="yolo_ocr",
                        retention_days=30, source_name="harbour walk.mp4")  # fmt: skip
    jobs.create(job)
    assert jobs.get(job.job_id).source_name == "harbour walk.mp4"
    jobs.claim(job.job_id, "w", lease_s=60)
    done = jobs.complete(job.job_id, owner="w", output_path="r.json", duration_s=12.345,
                         thumbnail_path=f"video_jobs/{job.job_id}/thumbnail.jpg")  # fmt: skip
    stored = jobs.get(job.job_id)
    assert stored == done and stored.duration_s == 12.345 and stored.error_code is None
    assert stored.thumbnail_path == f"video_jobs/{job.job_id}/thumbnail.jpg"
    failed = new_job(jobs)
    jobs.fail(failed.job_id, "too long", error_code="TooManyFrames")
    assert (jobs.get(failed.job_id).error_code, jobs.get(failed.job_id).duration_s) == (
        "TooManyFrames", None,
    )  # fmt: skip


def test_create_refuses_to_overwrite_an_existing_job(jobs):
    job = new_job(jobs)
    with pytest.raises(IllegalTransition, match="already exists"):
        jobs.create(job)


@pytest.mark.parametrize("path", [[RUNNING, COMPLETED], [RUNNING, FAILED], [FAILED]])
def test_legal_transitions(jobs, path):
    job = new_job(jobs)
    for status in path:
        message = "boom" if status == FAILED else None
        if status == RUNNING:  # running is reached only by a claim, which takes a lease
            returned = jobs.claim(job.job_id, "w", lease_s=60)
        else:
            returned = jobs.update_status(job.job_id, status, error_message=message)
        assert returned.status == status
    stored = jobs.get(job.job_id)
    assert stored.status == path[-1]
    assert stored.updated_at >= stored.created_at


def test_start_complete_and_fail_are_the_named_transitions(jobs):
    uploaded = new_job(jobs, status=UPLOADING)
    assert jobs.start(uploaded.job_id).status == PENDING
    claimed = jobs.claim(uploaded.job_id, "w", lease_s=60)
    done = jobs.complete(claimed.job_id, owner="w", output_path="video_jobs/r.json")
    assert (done.status, done.output_path, done.lease_expires_at) == (
        COMPLETED,
        "video_jobs/r.json",
        None,
    )
    other = new_job(jobs)
    failed = jobs.fail(other.job_id, "the file has no video track")
    assert (failed.status, failed.error_message) == (FAILED, "the file has no video track")


def test_start_pins_the_input_etag_and_every_later_read_carries_it(jobs):
    uploaded = new_job(jobs, status=UPLOADING)
    assert uploaded.input_etag is None and jobs.get(uploaded.job_id).input_etag is None
    started = jobs.start(uploaded.job_id, input_etag='"0123abcd"')
    assert (started.status, started.input_etag) == (PENDING, '"0123abcd"')
    claimed = jobs.claim(uploaded.job_id, "w", lease_s=60)
    assert claimed.input_etag == '"0123abcd"' == jobs.get(uploaded.job_id).input_etag
    with pytest.raises(IllegalTransition):  # a second start cannot re-pin another version
        jobs.start(uploaded.job_id, input_etag='"other"')
    assert jobs.get(uploaded.job_id).input_etag == '"0123abcd"'


@pytest.mark.parametrize(
    "start, target",
    [
        (PENDING, COMPLETED),
        (PENDING, PENDING),
        (RUNNING, PENDING),
        (COMPLETED, FAILED),
        (FAILED, COMPLETED),
    ],
)
def test_illegal_transitions_are_refused_by_the_store(jobs, start, target):
    job = new_job(jobs, status=start)
    with pytest.raises(IllegalTransition, match=f"cannot go to {target}: it is {start}"):
        jobs.update_status(job.job_id, target)
    assert jobs.get(job.job_id).status == start


def test_unknown_target_status_is_a_programming_error(jobs):
    with pytest.raises(ValueError):
        jobs.update_status(new_job(jobs).job_id, "paused")


def test_running_is_reached_only_by_a_claim_which_takes_a_lease(jobs):
    """A running job without a lease would never be recovered by the sweep."""
    job = new_job(jobs)
    with pytest.raises(ValueError, match="claim"):
        jobs.update_status(job.job_id, RUNNING)
    assert jobs.get(job.job_id).status == PENDING
    for status in (UPLOADING, COMPLETED, FAILED):
        with pytest.raises(IllegalTransition, match=f"cannot be claimed: it is {status}"):
            jobs.claim(new_job(jobs, status=status).job_id, "w", lease_s=60)
    claimed = jobs.claim(job.job_id, "w", lease_s=60)
    assert claimed.lease_owner == "w" and claimed.lease_expires_at > time.time()


def test_transitions_of_a_missing_job_are_job_not_found(jobs):
    with pytest.raises(JobNotFound):
        jobs.update_status(new_job_id(), FAILED)
    with pytest.raises(JobNotFound):
        jobs.claim(new_job_id(), "w", lease_s=60)


def test_many_claimants_have_exactly_one_winner(jobs):
    """Eight workers all saw the job pending, then all claim it: the store's condition, not
    their view, decides. (Sequential: moto does not serialize concurrent writes the way
    DynamoDB does; the condition is what is under test.)"""
    job = new_job(jobs)
    outcomes = []
    for number in range(8):
        try:
            jobs.claim(job.job_id, f"worker-{number}", lease_s=60)
            outcomes.append("won")
        except IllegalTransition:
            outcomes.append("lost")
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    stored = jobs.get(job.job_id)
    assert stored.status == RUNNING and stored.attempts == 1 and stored.lease_owner == "worker-0"


def test_an_expired_lease_can_be_taken_over_and_only_the_holder_finishes(jobs):
    job = new_job(jobs)
    first = jobs.claim(job.job_id, "worker-a", lease_s=60)
    assert first.attempts == 1 and time.time() < first.lease_expires_at <= time.time() + 60
    with pytest.raises(IllegalTransition, match="cannot be claimed: it is running"):
        jobs.claim(job.job_id, "worker-b", lease_s=60)  # lease still valid
    assert jobs.release_lease(job.job_id, "worker-a").lease_expires_at <= time.time()
    second = jobs.claim(job.job_id, "worker-b", lease_s=60)
    assert second.attempts == 2 and second.lease_owner == "worker-b"
    with pytest.raises(IllegalTransition):
        jobs.complete(job.job_id, owner="worker-a", output_path="x")  # it lost the lease
    with pytest.raises(IllegalTransition):
        jobs.renew_lease(job.job_id, "worker-a", 60)
    with pytest.raises(IllegalTransition):
        jobs.release_lease(job.job_id, "worker-a")
    renewed = jobs.renew_lease(job.job_id, "worker-b", 120)
    assert renewed.lease_expires_at > second.lease_expires_at
    jobs.complete(job.job_id, owner="worker-b", output_path="x")
    assert jobs.get(job.job_id).status == COMPLETED


def test_active_lists_uploading_pending_and_running_jobs_only(jobs, request):
    pending, running = new_job(jobs), new_job(jobs, status=RUNNING)
    uploading = new_job(jobs, status=UPLOADING)
    for status in (COMPLETED, FAILED):
        new_job(jobs, status=status)
    if isinstance(jobs, DynamoJobStore):  # an idempotency key shares the table: not a job
        keys = request.getfixturevalue("aws").submissions.keys
        keys.reserve(KeyRecord("idempotency#abc", pending.job_id, "print", 0))
    found = {job.job_id: job.status for job in jobs.active()}
    assert found == {pending.job_id: PENDING, running.job_id: RUNNING, uploading.job_id: UPLOADING}


def test_jobs_carry_a_ttl(jobs):
    expires_at = jobs.get(new_job(jobs).job_id).expires_at
    assert 29 * 86400 < expires_at - time.time() <= 30 * 86400


def test_error_messages_are_bounded(jobs):
    job = new_job(jobs)
    jobs.fail(job.job_id, "x" * 10_000)
    assert len(jobs.get(job.job_id).error_message) == 500


@pytest.mark.parametrize("bad_id", ["", "nope", "../etc/passwd", "%00", "a" * 10_000, None, 7])
def test_malformed_ids_name_no_job(jobs, bad_id):
    with pytest.raises(JobNotFound):
        jobs.get(bad_id)


def test_unknown_id_is_job_not_found(jobs):
    with pytest.raises(JobNotFound, match="no job with id"):
        jobs.get(new_job_id())
    assert jobs.find(new_job_id()) is None


def test_bootstrap_is_idempotent(aws):
    job = new_job(aws.jobs)
    first = bootstrap()
    second = bootstrap()
    assert first == second
    assert aws.jobs.get(job.job_id).status == PENDING  # the table was not recreated


@pytest.mark.parametrize("give_up", ["release", "hand_over"])
def test_a_lease_given_up_cannot_be_renewed_back_from_the_next_delivery(jobs, give_up):
    """A renewal still in flight after release or hand-over must not take the lease back, or the
    next delivery's claim would fail and its message be dropped."""
    job = new_job(jobs)
    jobs.claim(job.job_id, "w1", lease_s=60)
    if give_up == "release":
        jobs.release_lease(job.job_id, "w1")
    else:
        jobs.hand_over(job.job_id, "w1", slices=1, frames_done=5)
    with pytest.raises(IllegalTransition):
        jobs.renew_lease(job.job_id, "w1", 60)
    time.sleep(0.01)  # the lease ended "now"; the next delivery comes after it
    assert jobs.claim(job.job_id, "w2", lease_s=60).lease_owner == "w2"
