"""The emulator's journal: one framed, checksummed record per S3 or DynamoDB write.

    journal = FILE_HEADER record*
    record  = header, environ (pickled; its strings only), body (the request's bytes)
    header  = b"JRC2", environ length (u32), body length (u64),
              CRC32 of environ + body (u32), CRC32 of the 20 header bytes before it (u32)

Replay stops at the first record that does not verify: records after it cannot be applied
without it (a PutItem after a lost CreateTable, an object's second version after a lost first).
A last record cut short (the header or the record runs past the end of the file) is a write the
emulator died in, answered to nobody: it is dropped with an INFO line. Anything else is damage:
an ERROR says how many records were replayed and how many bytes (and intact records) were
skipped, and a copy of the journal is kept aside, next to the state directory (the journal
itself goes only once the emulator's next snapshot is in place: a crash before that replays it
again).

Journals written before this format (a bare stream of pickles, no checksums) are still
replayed, as that format allows: up to the first record that does not unpickle. A journal of
that format with bytes left unread (a torn last write, or damage: it cannot tell) is kept aside
too, with a WARNING.
"""

from __future__ import annotations

import logging
import mmap
import pickle
import shutil
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

FILE_HEADER = b"video-jobs emulator journal 2\n"
RECORD_MAGIC = b"JRC2"
_HEAD = struct.Struct(">4sIQI")  # magic, environ length, body length, CRC32 of both
_CHECK = struct.Struct(">I")  # CRC32 of the _HEAD bytes
HEADER_SIZE = _HEAD.size + _CHECK.size
log = logging.getLogger("video_jobs.emulator")


def frame(environ: dict, body: bytes) -> tuple[bytes, bytes]:
    """A record's header with its pickled environ, and its body (written after it, uncopied)."""
    pickled = pickle.dumps(environ, pickle.HIGHEST_PROTOCOL)
    head = _HEAD.pack(RECORD_MAGIC, len(pickled), len(body), zlib.crc32(body, zlib.crc32(pickled)))
    return head + _CHECK.pack(zlib.crc32(head)) + pickled, body


class JournalWriter:
    """Appends records to a new journal; each is in the OS's hands once ``append`` returns."""

    def __init__(self, path: Path):
        self.path = path
        self._file: BinaryIO = path.open("wb")

    def append(self, environ: dict, body: bytes) -> None:
        head, body = frame(environ, body)
        if self._file.tell() == 0:  # an empty journal stays 0 bytes
            self._file.write(FILE_HEADER)
        self._file.write(head)
        self._file.write(body)
        self._file.flush()  # survives this process being killed

    def size(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class JournalReader:
    """The records of one journal, in order, each verified. After iterating: ``replayed``
    records, ``end`` (the byte after the last of them), and why reading stopped before the
    file's ``size``: ``torn`` (a last record cut short) or ``damage`` (with ``later``, the
    intact records after it, none of them replayed)."""

    def __init__(self, path: Path):
        self.path = path
        self.size = path.stat().st_size if path.exists() else 0
        self.replayed = self.end = self.later = 0
        self.torn, self.legacy = False, False
        self.damage: str | None = None

    def __iter__(self) -> Iterator[tuple[dict, bytes]]:
        if self.size == 0:
            return
        with self.path.open("rb") as file, mmap.mmap(file.fileno(), 0, prot=mmap.PROT_READ) as data:
            if data[: len(FILE_HEADER)] == FILE_HEADER:
                yield from self._records(data)
            elif FILE_HEADER.startswith(data[: self.size]):
                self.torn = True  # died writing the file header
            elif data[:1] == b"\x80":  # a pickle: the format before checksums
                self.legacy = True
                yield from self._legacy(file)
            else:
                self.damage = "its file header is not a journal's"
                self.later = _intact_records(data, 0)

    def _records(self, data: mmap.mmap) -> Iterator[tuple[dict, bytes]]:
        self.end = offset = len(FILE_HEADER)
        while offset < self.size:
            record = _record_at(data, offset, self.size)
            if isinstance(record, str):
                if record == "torn":
                    self.torn = True
                else:
                    self.damage = f"record {self.replayed + 1} at byte {offset}: {record}"
                    self.later = _intact_records(data, offset + 1)
                return
            environ, body, offset = record
            self.replayed, self.end = self.replayed + 1, offset
            yield environ, body

    def _legacy(self, file: BinaryIO) -> Iterator[tuple[dict, bytes]]:
        file.seek(0)
        while True:
            try:
                environ, body = pickle.load(file)
            except Exception:  # the end, a torn last write, or damage: it cannot tell
                return
            self.replayed, self.end = self.replayed + 1, file.tell()
            yield environ, body


def _record_at(data: mmap.mmap, offset: int, size: int) -> tuple[dict, bytes, int] | str:
    """The record at ``offset`` (environ, body, the offset after it), or "torn", or what is
    wrong with it."""
    if size - offset < HEADER_SIZE:
        return "torn"
    head = data[offset : offset + _HEAD.size]
    magic, environ_len, body_len, crc = _HEAD.unpack(head)
    (check,) = _CHECK.unpack(data[offset + _HEAD.size : offset + HEADER_SIZE])
    if magic != RECORD_MAGIC or check != zlib.crc32(head):
        return "its header does not match its checksum"
    start = offset + HEADER_SIZE
    end = start + environ_len + body_len
    if end > size:
        return "torn"
    pickled, body = data[start : start + environ_len], data[start + environ_len : end]
    if zlib.crc32(body, zlib.crc32(pickled)) != crc:
        return "its request or body does not match its checksum"
    return pickle.loads(pickled), body, end


def _intact_records(data: mmap.mmap, start: int) -> int:
    """How many records after damage at ``start`` still verify (to say what was skipped)."""
    count, offset, size = 0, start, len(data)
    while (offset := data.find(RECORD_MAGIC, offset)) >= 0:
        record = _record_at(data, offset, size)
        if isinstance(record, tuple):
            count, offset = count + 1, record[2]
        else:
            offset += 1
    return count


def keep_aside(path: Path, state_dir: Path) -> Path:
    """Copy a journal that was not replayed whole next to the state directory, stamped. The
    journal stays where it is: the writes replayed from it live only there until the caller's
    next snapshot is in place, and that snapshot removes it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    kept = state_dir.parent / f"{state_dir.name}-{path.stem}-damaged-{stamp}{path.suffix}"
    shutil.copy2(path, kept)
    return kept


def report(reader: JournalReader, state_dir: Path) -> None:
    """Log what replaying ``reader``'s journal found; keep a copy of the journal if needed."""
    skipped = reader.size - reader.end
    if reader.damage is not None:
        kept = keep_aside(reader.path, state_dir)
        log.error(
            "%s is damaged (%s): replayed the %d records before the damage and skipped the "
            "last %d of its %d bytes (the damaged record and %d intact records after it, which "
            "cannot be applied without it); the journal is kept at %s",
            reader.path.name, reader.damage, reader.replayed, skipped, reader.size,
            reader.later, kept,
        )  # fmt: skip
    elif reader.legacy and skipped:
        kept = keep_aside(reader.path, state_dir)
        log.warning(
            "%s is in the format before checksums: replayed %d records; its last %d of %d "
            "bytes do not unpickle (a torn last write or damage: that format cannot tell); "
            "the journal is kept at %s",
            reader.path.name, reader.replayed, skipped, reader.size, kept,
        )  # fmt: skip
    elif reader.torn:
        log.info("%s: dropped a torn last record (%d bytes), written by nobody who was answered",
                 reader.path.name, skipped)  # fmt: skip
