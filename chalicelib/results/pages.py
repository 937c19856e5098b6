"""Which frames one GET of the results returns: ``max_frames`` and ``next_token``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.errors import BadRequest, quoted, quoted_list

MAX_PAGE_FRAMES = 1000  # ~1-2 MB of frames: a page stays under Lambda's 6 MB response limit


@dataclass(frozen=True)
class ResultsPage:
    """Which frames one GET of the results returns; the summary always comes whole."""

    start: int
    size: int

    def cut(self, frames: list) -> tuple[list, str | None]:
        end = self.start + self.size
        return frames[self.start : end], (str(end) if end < len(frames) else None)


def results_page(params: Mapping[str, str] | None) -> ResultsPage:
    """``max_frames`` (1..1000, default 1000) and the ``next_token`` of the previous page."""
    params = params or {}
    unknown = set(params) - {"max_frames", "next_token"}
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: only max_frames and next_token"
        )
    size = _bounded_int(params.get("max_frames", str(MAX_PAGE_FRAMES)), 1, MAX_PAGE_FRAMES,
                        "max_frames")  # fmt: skip
    start = _bounded_int(params.get("next_token", "0"), 0, 10**9, "next_token")
    return ResultsPage(start, size)


def _bounded_int(raw: str, low: int, high: int, name: str) -> int:
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and low <= int(raw) <= high:
        return int(raw)
    raise BadRequest(f"{name} must be a whole number from {low} to {high}, got {quoted(raw)}")
