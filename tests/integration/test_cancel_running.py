"""A running job that its owner cancels stops at its next frame check (the lease renewal finds
it cancelled), stores nothing more, and ends cancelled: no results, no notice."""

import threading

from chalicelib.analysis.registry import SliceOutcome
from chalicelib.analysis.worker import JobWorker, WorkerSettings
from chalicelib.jobs.ids import results_path
from chalicelib.jobs.record import CANCELLED
from chalicelib.results.document import FrameResult
from tests.support.jobs import new_job

GUARD_S = 30.0  # a bound on a broken stop check, never a measurement


class CancelledWhileRunning:
    """A pipeline that cancels its own job after one frame, then asks ``stop`` between frames
    (as the real ones do) and counts the checks until it says stop."""

    def __init__(self, jobs, frame):
        self.jobs, self.frame = jobs, frame
        self.checks, self.stopped = 0, False

    def pipeline(self, pipeline_id):
        return self

    def analyze(self, file_path, *, sample_fps, emit, options=None, state=None, stop=None,
                timings=None) -> SliceOutcome:  # fmt: skip
        emit(self.frame)
        self.jobs.cancel(self.job_id)
        waited = threading.Event()
        for _ in range(int(GUARD_S / 0.01)):
            self.checks += 1
            if stop():
                self.stopped = True
                break
            waited.wait(0.01)
        return SliceOutcome(False, {"next": 1}, {}, {})

    def fields(self, options, outcome):
        return {}


def test_a_cancelled_running_job_stops_at_its_next_frame_check(aws):
    job = new_job(aws.jobs, storage=aws.storage)
    pipelines = CancelledWhileRunning(aws.jobs, FrameResult(0, 0))
    pipelines.job_id = job.job_id
    announced = []
    settings = WorkerSettings(lease_s=0.3)  # renewed every 0.1 s: the cancel is seen soon
    worker = JobWorker(storage=aws.storage, jobs=aws.jobs, pipelines=pipelines,
                       settings=settings, on_finish=announced.append)  # fmt: skip
    assert worker.process(job.job_id) is False  # the attempt is dropped, not retried
    assert pipelines.stopped and pipelines.checks >= 1
    assert aws.jobs.get(job.job_id).status == CANCELLED
    assert aws.storage.size(results_path(job.job_id)) is None
    assert announced == []
    # a redelivery of its message announces nothing either
    assert worker.process(job.job_id, receive_count=2) is False and announced == []
