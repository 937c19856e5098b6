"""Emulated AWS (moto) whose S3 objects and DynamoDB items survive a crash and a restart.

    python -m infra.emulator --port 5010 [--state-dir DIR]   # DIR: Settings.state_dir
    python -m infra.emulator --wipe      # forget everything (make clean-state)

moto keeps its state in memory and has no persistence of its own (moto 5.2's request recorder
logs every request, reads included, and replays all of them over HTTP: SQS receives and deletes
cannot be replayed into the same queue). So this server runs moto's own WSGI application and:

* appends every successful write to S3 or DynamoDB to a journal before its answer is sent, so a
  crash loses only writes that no caller was told had succeeded;
* at start loads the last snapshot (a pickle of moto's S3 and DynamoDB backends), replays the
  journal over it and writes a new snapshot; it also writes one at shutdown (SIGTERM/SIGINT) and
  whenever the journal outgrows the snapshot, so the journal stays short.

SQS is not kept: the queue only carries job ids, and the local stack re-sends the id of every
unfinished job once the emulator is up (``python -m infra.resources --requeue``).
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import io
import logging
import os
import pickle
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from werkzeug.serving import make_server

from chalicelib.config import load_settings

PERSISTED = ("s3", "dynamodb")
DYNAMODB_READS = ("Get", "BatchGet", "Query", "Scan", "Describe", "List", "TransactGet")
S3_WRITES = frozenset({"PUT", "POST", "DELETE"})
# A new snapshot after this many journaled writes (replaying one costs ~3.5 ms, so a crash
# restart replays at most a few seconds), or once the journal outgrows the snapshot.
COMPACT_WRITES = 1000
MIN_COMPACT_BYTES = 64 * 1024 * 1024
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/aws4_request")
SNAPSHOT = "moto-state.pickle"
WSGI_DEFAULTS = {
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}
log = logging.getLogger("video_jobs.emulator")


def service_of(environ: dict) -> str:
    """The service a request is signed for (header or presigned query); unsigned means S3."""
    signed = environ.get("HTTP_AUTHORIZATION", "") + unquote(environ.get("QUERY_STRING", ""))
    match = _CREDENTIAL_SERVICE.search(signed)
    return match.group(1) if match else "s3"


def is_persisted_write(environ: dict) -> bool:
    service, method = service_of(environ), environ["REQUEST_METHOD"]
    if service == "s3":
        return method in S3_WRITES
    if service == "dynamodb":
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        return method == "POST" and not operation.startswith(DYNAMODB_READS)
    return False


def call(app, environ: dict, body: bytes) -> tuple[str, list, bytes]:
    """Run one request through a WSGI app with ``body`` as its input; collect the answer."""
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer.update(status=status, headers=headers)
        return lambda _data: None

    environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is whole now
    environ["wsgi.input_terminated"] = False
    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return answer["status"], answer["headers"], content


def read_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: the server de-chunks to EOF
        return stream.read()
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return stream.read(length) if length > 0 else b""


def replayable(environ: dict) -> dict:
    """What of a request's environ a replay needs: its strings, not its sockets and streams."""
    return {
        key: copy.deepcopy(value)
        for key, value in environ.items()
        if not key.startswith(("wsgi.", "werkzeug.")) and isinstance(value, (str, dict))
    }


class StateStore:
    """A snapshot of moto's S3 and DynamoDB backends plus a journal of the writes since then.

    ``journal-N.log`` holds the writes made after snapshot generation N; a snapshot is written
    to a temporary file and renamed, so a crash at any point leaves one consistent pair.
    """

    def __init__(self, state_dir: Path):
        self.dir = state_dir
        self.generation = 0
        self._journal = None
        self._snapshot_bytes = self._journaled = 0

    def journal_path(self, generation: int) -> Path:
        return self.dir / f"journal-{generation}.log"

    def restore(self, app) -> int:
        """Load the snapshot, replay its journal through ``app``; the number of writes replayed."""
        snapshot = self.dir / SNAPSHOT
        if snapshot.exists():
            with snapshot.open("rb") as file:
                saved = pickle.load(file)
            self.generation, self._snapshot_bytes = saved["generation"], snapshot.stat().st_size
            install(saved["backends"])
        replayed = 0
        for environ, body in read_journal(self.journal_path(self.generation)):
            call(app, {**WSGI_DEFAULTS, **environ}, body)
            replayed += 1
        return replayed

    def append(self, environ: dict, body: bytes) -> None:
        pickle.dump((replayable(environ), body), self._journal, pickle.HIGHEST_PROTOCOL)
        self._journal.flush()  # in the OS's hands: survives this process being killed
        self._journaled += 1
        too_big = self._journal.tell() > max(MIN_COMPACT_BYTES, self._snapshot_bytes)
        if too_big or self._journaled >= COMPACT_WRITES:
            self.snapshot()

    def snapshot(self) -> None:
        """Write generation N+1 and start its empty journal; callers hold the write lock."""
        started = time.perf_counter()
        target, temporary = self.dir / SNAPSHOT, self.dir / (SNAPSHOT + ".partial")
        with temporary.open("wb") as file:
            state = {"generation": self.generation + 1, "backends": collect()}
            pickle.dump(state, file, pickle.HIGHEST_PROTOCOL)
            file.flush()
            os.fsync(file.fileno())
            self._snapshot_bytes = file.tell()
        os.replace(temporary, target)
        self.generation += 1
        self.start_journal()
        log.info("snapshot %d: %.1f MB in %.2f s", self.generation, self._snapshot_bytes / 1e6,
                 time.perf_counter() - started)  # fmt: skip
        for old in self.dir.glob("journal-*.log"):
            if old != self.journal_path(self.generation):
                old.unlink()

    def start_journal(self) -> None:
        """An empty journal for the current generation (after a replay there is nothing in it
        that the snapshot lacks, and with no replay nothing readable)."""
        if self._journal:
            self._journal.close()
        self._journal, self._journaled = self.journal_path(self.generation).open("wb"), 0


def read_journal(path: Path):
    if not path.exists():
        return
    with path.open("rb") as file:
        while True:
            try:
                yield pickle.load(file)
            except (EOFError, pickle.UnpicklingError, ValueError):  # the end, or a torn last write
                return


def collect() -> dict:
    """moto's S3 and DynamoDB state: {service: {account: {region: backend}}}."""
    from moto.backends import get_backend

    return {name: {a: dict(r) for a, r in get_backend(name).items()} for name in PERSISTED}


def install(backends: dict) -> None:
    from moto.backends import get_backend

    for name, accounts in backends.items():
        for account_id, regions in accounts.items():
            for region, backend in regions.items():
                get_backend(name)[account_id][region] = backend


class PersistentApp:
    """moto's WSGI app; writes to S3 and DynamoDB go through the journal, one at a time."""

    def __init__(self, app, store: StateStore):
        self.app, self.store = app, store
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not is_persisted_write(environ):
            return self.app(environ, start_response)
        body = read_body(environ)
        with self.lock:
            status, headers, content = call(self.app, environ, body)
            if status.startswith("2"):
                self.store.append(environ, body)
        start_response(status, headers)
        return [content]


def lock_state_dir(state_dir: Path):
    """One emulator per state directory: a second one would overwrite the first one's files."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another emulator is using {state_dir}: stop it or pick another"
        ) from None
    return handle


def serve(host: str, port: int, state_dir: Path) -> None:
    import copyreg

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    copyreg.pickle(threading.Condition, lambda _c: (threading.Condition, ()))  # in S3 backends
    _held = lock_state_dir(state_dir)
    moto_app = DomainDispatcherApplication(create_backend_app)
    store = StateStore(state_dir)
    started = time.perf_counter()
    replayed = store.restore(moto_app)
    if replayed:
        store.snapshot()  # fold the journal in, and any torn last write out
    else:
        store.start_journal()
    log.info("restored generation %d (+%d journaled writes) from %s in %.2f s", store.generation,
             replayed, state_dir, time.perf_counter() - started)  # fmt: skip
    app = PersistentApp(moto_app, store)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        with app.lock:
            store.snapshot()
        log.info("state saved to %s", state_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description="moto, with its S3 and DynamoDB state kept.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5010)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--wipe", action="store_true", help="delete the saved state and exit")
    args = parser.parse_args()
    state_dir = (args.state_dir or load_settings().state_dir).expanduser()
    logging.basicConfig(level=logging.INFO, format="emulator: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request: too noisy
    if args.wipe:
        with lock_state_dir(state_dir):
            shutil.rmtree(state_dir)
        print(f"wiped {state_dir}")
        return
    os.environ.setdefault("MOTO_PORT", str(args.port))
    serve(args.host, args.port, state_dir)


if __name__ == "__main__":
    main()
