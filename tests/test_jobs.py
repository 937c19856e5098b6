import pytest

from chalicelib.errors import IllegalTransition, JobNotFound
from chalicelib.ids import new_job_id, video_path
from chalicelib.jobs import COMPLETED, FAILED, PENDING, RUNNING, UPLOADING, Job
from infra.resources import bootstrap


def make_job(status=PENDING) -> Job:
    job_id = new_job_id()
    job = Job.new(job_id, input_path=video_path(job_id), pipeline_id="yolo_ocr", status=status)
    job.save()
    return job


def test_new_job_round_trips(aws):
    job = make_job()
    stored = Job.get_by_id(job.job_id)
    assert (stored.status, stored.pipeline_id, stored.input_path) == (
        PENDING,
        "yolo_ocr",
        f"video_jobs/{job.job_id}.mp4",
    )
    assert stored.created_at.endswith("Z") and stored.created_at == stored.updated_at


def test_save_refuses_to_overwrite_an_existing_job(aws):
    job = make_job()
    with pytest.raises(IllegalTransition):
        Job.new(job.job_id, input_path="x", pipeline_id="yolo_ocr").save()


@pytest.mark.parametrize(
    "path",
    [
        [RUNNING, COMPLETED],
        [RUNNING, FAILED],
        [FAILED],
    ],
)
def test_legal_transitions(aws, path):
    job = make_job()
    for status in path:
        job.update_status(status, error_message="boom" if status == FAILED else None)
    stored = Job.get_by_id(job.job_id)
    assert stored.status == path[-1]
    assert stored.updated_at >= stored.created_at


@pytest.mark.parametrize(
    "start, target",
    [
        (PENDING, COMPLETED),
        (PENDING, PENDING),
        (RUNNING, RUNNING),
        (RUNNING, PENDING),
        (COMPLETED, RUNNING),
        (COMPLETED, FAILED),
        (FAILED, COMPLETED),
        (FAILED, RUNNING),
        (UPLOADING, RUNNING),
    ],
)
def test_illegal_transitions_are_refused_by_the_database(aws, start, target):
    job = make_job(status=start)
    with pytest.raises(IllegalTransition, match=f"cannot go to {target}: it is {start}"):
        job.update_status(target)
    assert Job.get_by_id(job.job_id).status == start


def test_a_stale_copy_cannot_move_a_job_backwards(aws):
    job = make_job()
    stale = Job.get_by_id(job.job_id)
    job.update_status(RUNNING)
    job.update_status(COMPLETED)
    with pytest.raises(IllegalTransition):
        stale.update_status(RUNNING)  # its in-memory status still says pending
    assert Job.get_by_id(job.job_id).status == COMPLETED


def test_many_claimants_with_the_same_view_have_exactly_one_winner(aws):
    """Eight workers all read the job as pending, then all claim it. The database's condition,
    not the workers' view, decides: one wins. (Sequential, because moto does not serialize
    concurrent writes the way DynamoDB does; the condition is what is under test.)"""
    job = make_job()
    copies = [Job.get_by_id(job.job_id) for _ in range(8)]
    outcomes = []
    for number, copy in enumerate(copies):
        try:
            copy.claim(f"worker-{number}", lease_s=60)
            outcomes.append("won")
        except IllegalTransition:
            outcomes.append("lost")
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    stored = Job.get_by_id(job.job_id)
    assert stored.status == RUNNING and stored.attempts == 1


def test_an_expired_lease_can_be_taken_over_and_only_the_holder_finishes(aws):
    job = make_job()
    first = Job.get_by_id(job.job_id)
    first.claim("worker-a", lease_s=60)
    with pytest.raises(IllegalTransition):
        Job.get_by_id(job.job_id).claim("worker-b", lease_s=60)  # lease still valid
    first.release_lease("worker-a")  # as if it had expired
    second = Job.get_by_id(job.job_id)
    second.claim("worker-b", lease_s=60)
    assert second.attempts == 2 and second.lease_owner == "worker-b"
    with pytest.raises(IllegalTransition):
        first.update_status(COMPLETED, owner="worker-a")  # it lost the lease
    with pytest.raises(IllegalTransition):
        first.renew_lease("worker-a", 60)
    second.renew_lease("worker-b", 60)
    second.update_status(COMPLETED, owner="worker-b")
    assert Job.get_by_id(job.job_id).status == COMPLETED


def test_jobs_carry_a_ttl(aws):
    import time

    job = make_job()
    assert 29 * 86400 < Job.get_by_id(job.job_id).expires_at - time.time() <= 30 * 86400


def test_error_messages_are_bounded(aws):
    job = make_job()
    job.update_status(FAILED, error_message="x" * 10_000)
    assert len(Job.get_by_id(job.job_id).error_message) == 500


@pytest.mark.parametrize("bad_id", ["", "nope", "../etc/passwd", "%00", "a" * 10_000, None, 7])
def test_malformed_ids_name_no_job(aws, bad_id):
    with pytest.raises(JobNotFound):
        Job.get_by_id(bad_id)


def test_unknown_id_is_job_not_found(aws):
    with pytest.raises(JobNotFound, match="no job with id"):
        Job.get_by_id(new_job_id())


def test_bootstrap_is_idempotent(aws):
    job = make_job()
    first = bootstrap()
    second = bootstrap()
    assert first == second
    assert Job.get_by_id(job.job_id).status == PENDING  # the table was not recreated
