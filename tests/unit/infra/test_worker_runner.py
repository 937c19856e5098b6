"""The local runner's reconcile sweep runs on its own thread: a long job never delays it."""

import threading

from infra.worker_runner import sweep_every


def test_the_sweep_keeps_its_schedule_while_the_runner_is_busy():
    stop, swept = threading.Event(), []
    job_done = threading.Event()

    def sweep():
        swept.append(job_done.is_set())
        if len(swept) == 3:
            raise ConnectionError("the emulator blinked")  # logged; the next sweep still runs

    thread = sweep_every(0.05, sweep, stop)
    job_done.wait(0.5)  # the runner's thread, busy with one long job
    job_done.set()
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    assert len(swept) >= 5 and not any(swept[:5])  # swept during the job, past a failure
