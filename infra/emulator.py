"""Emulated AWS (moto) whose S3 objects and DynamoDB items survive a crash and a restart.

    python -m infra.emulator --port 5010 [--state-dir DIR]   # DIR: Settings.state_dir
    python -m infra.emulator --wipe      # forget everything (make clean-state)

moto keeps its state in memory and has no persistence of its own (moto 5.2's request recorder
logs every request, reads included, and replays all of them over HTTP: SQS receives and deletes
cannot be replayed into the same queue). So this server runs moto's own WSGI application and:

* appends every successful write to S3 or DynamoDB to a journal before its answer is sent, so a
  crash loses only writes that no caller was told had succeeded (one at a time: reads and SQS
  run alongside);
* KMS writes (the local stack's one key and alias, created once) are kept by a new snapshot
  at once: a replayed CreateKey would make a different key;
* at start loads the last snapshot (a pickle of moto's S3, DynamoDB, KMS backends) and replays the
  journal over it, each record checked against its CRC32 and up to the first that does not
  verify (an ERROR then counts what was skipped, and a copy of the journal is kept:
  ``infra/emulator_journal.py``); it writes a new snapshot at shutdown (SIGTERM/SIGINT), after a
  replay, and every 1000 journaled writes, so the journal stays short
  (``infra/emulator_state.py``).

SQS is not kept: the queue only carries job ids, and the local stack re-sends the id of every
unfinished job once the emulator is up (``python -m infra.resources --requeue``).
"""

from __future__ import annotations

import argparse
import copy
import io
import logging
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from werkzeug.serving import make_server

from chalicelib import logs
from chalicelib.config import load_settings
from infra.emulator_state import StateStore, lock_state_dir

if TYPE_CHECKING:  # typeshed's WSGI types; no such module at run time
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

DYNAMODB_READS = ("Get", "BatchGet", "Query", "Scan", "Describe", "List", "TransactGet")
S3_WRITES = frozenset({"PUT", "POST", "DELETE"})
KMS_READS = ("Encrypt", "Decrypt", "ReEncrypt", "Generate", "Describe", "List", "Get", "Sign",
             "Verify")  # fmt: skip
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/]+)/aws4_request")
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
    operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
    if service == "dynamodb":
        return method == "POST" and not operation.startswith(DYNAMODB_READS)
    if service == "kms":  # CreateKey, CreateAlias, ...: the keys must survive a restart
        return method == "POST" and not operation.startswith(KMS_READS)
    return False


def call(app: WSGIApplication, environ: dict, body: bytes) -> tuple[str, list, bytes]:
    """Run one request through a WSGI app with ``body`` as its input; collect the answer."""
    answer: dict = {}

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], object]:
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


class PersistentApp:
    """moto's WSGI app; writes to S3 and DynamoDB go through the journal, one at a time."""

    def __init__(self, app: WSGIApplication, store: StateStore) -> None:
        self.app, self.store = app, store
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not is_persisted_write(environ):
            return self.app(environ, start_response)
        body = read_body(environ)
        with self.lock:
            status, headers, content = call(self.app, environ, body)
            if status.startswith("2") and service_of(environ) == "kms":
                self.store.snapshot()
            elif status.startswith("2"):
                self.store.append(replayable(environ), body)
        start_response(status, headers)
        return [content]


def restore(store: StateStore, moto_app: WSGIApplication, state_dir: Path) -> None:
    started = time.perf_counter()
    try:
        replayed = store.restore(
            lambda environ, body: call(moto_app, {**WSGI_DEFAULTS, **environ}, body)
        )
    except Exception as error:  # e.g. a snapshot written by another version of moto
        raise SystemExit(
            f"could not restore the state in {state_dir} ({error!r}): "
            "`make clean-state` (python -m infra.emulator --wipe) starts afresh"
        ) from error
    log.info("restored generation %d (+%d journaled writes) from %s in %.2f s", store.generation,
             replayed, state_dir, time.perf_counter() - started)  # fmt: skip


def serve(host: str, port: int, state_dir: Path) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    _held = lock_state_dir(state_dir)
    moto_app = DomainDispatcherApplication(create_backend_app)
    store = StateStore(state_dir)
    restore(store, moto_app, state_dir)
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
    parser = argparse.ArgumentParser(description="moto, with its S3, DynamoDB, KMS state kept.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5010)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--wipe", action="store_true", help="delete the saved state and exit")
    args = parser.parse_args()
    state_dir = (args.state_dir or load_settings().state_dir).expanduser()
    logs.configure()  # JSON lines, as the API and the worker runner write them
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
