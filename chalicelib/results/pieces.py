"""Results stored in pieces, so that serving one page never reads the whole document.

The worker stores a results document as a *head* and *pieces*. The head, at the job's results
path, is ``{"results": <the document without "frames">, "frame_pieces": [n0, n1, ...]}``: which
fields the document has does not matter here. Piece ``i`` holds the next ``n_i`` frames as a JSON
array, at most ``PIECE_MAX_BYTES`` and ``PIECE_MAX_FRAMES`` (a piece always holds at least one
frame). Every object is written once; the pieces go first, so a stored head means the whole
result is there. A page is cut from the one piece it starts in and never crosses that piece's
end, so it is bounded in bytes whatever the frames hold.

Results stored before this layout (one file with ``frames`` inside) are still served, whole.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.storage import StorageService
from chalicelib.errors import DamagedPiece
from chalicelib.results.document import encode
from chalicelib.results.pages import MAX_PAGE_FRAMES, ResultsPage

log = logging.getLogger(__name__)
PIECE_MAX_BYTES = 1_000_000  # a page is one piece at most: far under Lambda's 6 MB response
PIECE_MAX_FRAMES = MAX_PAGE_FRAMES
INDEX = "frame_pieces"
HEAD_SUFFIX = "_results.json"


def piece_path(head_path: str, index: int) -> str:
    """``video_jobs/<id>_frames00000_results.json`` next to ``video_jobs/<id>_results.json``
    (the analyzer may write ``*_results.json`` only)."""
    return f"{head_path.removesuffix(HEAD_SUFFIX)}_frames{index:05d}{HEAD_SUFFIX}"


class PieceBuilder:
    """Cuts encoded frames into pieces as they come (the one home of the piece rules), so a
    long analysis can store each piece as soon as it is full. ``pending`` and ``counts`` are
    its whole state: a checkpoint keeps them and a new builder goes on from them."""

    def __init__(self, counts: list[int] | None = None, pending: list[bytes] | None = None):
        self.counts = list(counts or [])  # frames in each finished piece
        self.pending = list(pending or [])  # the encoded frames of the piece being filled
        self._size = sum(len(frame) + 1 for frame in self.pending)

    def add(self, encoded: bytes) -> bytes | None:
        """Take one encoded frame; the piece it closed, if it opened a new one."""
        full = self.pending and (
            len(self.pending) >= PIECE_MAX_FRAMES or self._size + len(encoded) + 2 > PIECE_MAX_BYTES
        )
        done = self.close() if full else None
        self.pending.append(encoded)
        self._size += len(encoded) + 1  # and its comma (or the closing bracket)
        return done

    def close(self) -> bytes | None:
        """The piece being filled, finished (None if it is empty)."""
        if not self.pending:
            return None
        piece = b"[" + b",".join(self.pending) + b"]"
        self.counts.append(len(self.pending))
        self.pending, self._size = [], 0
        return piece


def encode_head(results: Mapping[str, Any], counts: list[int]) -> bytes:
    """The head over pieces of ``counts`` frames; ``results``: the document without frames."""
    return encode({"results": {n: v for n, v in results.items() if n != "frames"}, INDEX: counts})


def write_once(storage: StorageService, path: str, data: bytes) -> None:
    """Store ``data`` at ``path`` unless something is there already (a retry's duplicate)."""
    try:
        storage.save_file(data, path, overwrite=False)
    except FileExistsError:
        log.info("%s was already stored; keeping it", path)


def read_page(
    storage: StorageService, head_path: str, page: ResultsPage
) -> tuple[dict[str, Any], str | None]:
    """The document with one page of frames, and the next page's token (None after the last).
    FileNotFoundError if the head is gone; DamagedPiece if anything stored is unreadable."""
    stored = _load(storage, head_path, dict)
    if INDEX not in stored:  # stored the old way: one file
        if not isinstance(stored.get("frames"), list):
            raise DamagedPiece(f"{head_path} has no frames")
        stored["frames"], token = page.cut(stored["frames"])
        return stored, token
    counts, results = stored[INDEX], stored.get("results")
    if not isinstance(results, dict) or not all(isinstance(n, int) and n > 0 for n in counts):
        raise DamagedPiece(f"{head_path} is not a results head")
    starts = list(itertools.accumulate(counts, initial=0))
    frames: list = []
    if page.start < starts[-1]:
        index = bisect.bisect_right(starts, page.start) - 1
        path = piece_path(head_path, index)
        try:
            piece = _load(storage, path, list)
        except FileNotFoundError:
            raise DamagedPiece(f"{path} is missing") from None
        if len(piece) != counts[index]:
            raise DamagedPiece(f"{path} holds {len(piece)} frames, not {counts[index]}")
        offset = page.start - starts[index]
        frames = piece[offset : offset + page.size]
    end = page.start + len(frames)
    token = str(end) if frames and end < starts[-1] else None
    return dict(sorted({**results, "frames": frames}.items())), token


def read_document(storage: StorageService, head_path: str) -> dict[str, Any]:
    """The whole document, every frame (for tools and benchmarks; the API reads pages)."""
    document, token = read_page(storage, head_path, ResultsPage(0, 10**9))
    frames = document["frames"]
    while token is not None:
        more, token = read_page(storage, head_path, ResultsPage(int(token), 10**9))
        frames += more["frames"]
    return document


def _load(storage: StorageService, path: str, kind: type) -> Any:
    try:
        value = json.loads(storage.load_file(path))
    except ValueError as error:  # not UTF-8 or not JSON (both are ValueErrors)
        raise DamagedPiece(f"{path} is not JSON: {error}") from None
    if not isinstance(value, kind):
        raise DamagedPiece(f"{path} is not a JSON {kind.__name__}")
    return value
