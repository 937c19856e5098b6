"""Where the emulator keeps moto's S3, DynamoDB and KMS state: a snapshot and a journal of writes.

``moto-state.pickle`` holds generation N of moto's S3, DynamoDB and KMS backends (pickled whole;
KMS holds the key that encrypts access keys' secrets, which must outlive a restart);
``journal-N.log`` the writes made since, one checksummed record per write
(``infra/emulator_journal.py``: replay stops at the first record that does not verify, and a
copy of a damaged journal is kept next to the state directory). A snapshot is written to a
temporary file, synced and renamed before its new empty journal replaces the old one, so a
crash at any point leaves one consistent pair. ``lock`` keeps a second emulator out.
"""

from __future__ import annotations

import copyreg
import fcntl
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.bindings._rust import openssl
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from infra.emulator_journal import JournalReader, JournalWriter, report

PERSISTED = ("s3", "dynamodb", "kms")  # SQS is not kept: the local stack re-sends unfinished jobs
SNAPSHOT = "moto-state.pickle"
# A new snapshot after this many journaled writes (replaying one costs 2-3.5 ms, so a crash
# restart replays a few seconds at most), or once the journal outgrows the snapshot.
COMPACT_WRITES = 1000
MIN_COMPACT_BYTES = 64 * 1024 * 1024
log = logging.getLogger("video_jobs.emulator")

# moto's SQS queues hold a threading.Condition; a fresh one is what a restored queue needs.
copyreg.pickle(threading.Condition, lambda _condition: (threading.Condition, ()))


# Any: the Rust key classes registered below have no methods in cryptography's type stubs.
def _private_key(key: Any) -> tuple[Callable[[bytes], PrivateKeyTypes], tuple[bytes]]:
    """moto's KMS keys hold cryptography private keys, which pickle as their DER bytes."""
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_private_key, (der,)


def _load_private_key(der: bytes) -> PrivateKeyTypes:
    return serialization.load_der_private_key(der, None)


for _key_type in (openssl.rsa.RSAPrivateKey, openssl.ec.ECPrivateKey):
    copyreg.pickle(_key_type, _private_key)


class StateStore:
    """The snapshot and journal in ``state_dir``; callers serialize ``append`` and ``snapshot``."""

    def __init__(self, state_dir: Path):
        self.dir = state_dir
        self.generation = 0
        self._journal: JournalWriter | None = None
        self._snapshot_bytes = self._journaled = 0

    def journal_path(self, generation: int) -> Path:
        return self.dir / f"journal-{generation}.log"

    def restore(self, replay: Callable[[dict, bytes], object]) -> int:
        """Load the snapshot into moto, hand each journaled write that verifies to ``replay``,
        up to the first that does not; their count. Then the journal is folded into a new
        snapshot (or, with nothing replayed, emptied); a damaged one is copied aside first, and
        is itself removed only once that snapshot is in place (a crash in between replays it
        again on the next start)."""
        snapshot = self.dir / SNAPSHOT
        if snapshot.exists():
            with snapshot.open("rb") as file:
                saved = pickle.load(file)
            self.generation, self._snapshot_bytes = saved["generation"], snapshot.stat().st_size
            install(saved["backends"])
        journal = JournalReader(self.journal_path(self.generation))
        for environ, body in journal:
            replay(environ, body)
        report(journal, self.dir)
        if journal.replayed:
            self.snapshot()  # also drops a torn last write
        else:
            self._start_journal()
        return journal.replayed

    def append(self, environ: dict, body: bytes) -> None:
        assert self._journal is not None, "append() after restore()"
        self._journal.append(environ, body)
        self._journaled += 1
        too_big = self._journal.size() > max(MIN_COMPACT_BYTES, self._snapshot_bytes)
        if too_big or self._journaled >= COMPACT_WRITES:
            self.snapshot()

    def snapshot(self) -> None:
        """Write generation N+1 and start its empty journal."""
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
        self._start_journal()
        log.info("snapshot %d: %.1f MB in %.2f s", self.generation, self._snapshot_bytes / 1e6,
                 time.perf_counter() - started)  # fmt: skip
        for old in self.dir.glob("journal-*.log"):
            if old != self.journal_path(self.generation):
                old.unlink()

    def _start_journal(self) -> None:
        if self._journal:
            self._journal.close()
        self._journal, self._journaled = JournalWriter(self.journal_path(self.generation)), 0


def collect() -> dict:
    """moto's persisted state: {service: {account: {region: backend}}}."""
    from moto.backends import get_backend

    backends = {name: get_backend(name) for name in PERSISTED}  # type: ignore[call-overload]
    return {name: {a: dict(r) for a, r in b.items()} for name, b in backends.items()}


def install(backends: dict) -> None:
    from moto.backends import get_backend

    for name, accounts in backends.items():
        for account_id, regions in accounts.items():
            for region, backend in regions.items():
                get_backend(name)[account_id][region] = backend


def lock_state_dir(state_dir: Path) -> TextIO:
    """One emulator per state directory: a second one would overwrite the first one's files."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another emulator is using {state_dir}: stop it first") from None
    return handle
