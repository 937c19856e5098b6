"""Shortcuts over ``VideoReader`` that only tests use: metadata alone, or open-sample-release."""

from __future__ import annotations

import os
from collections.abc import Iterator

from chalicelib.analysis.frames import SampledFrame, VideoMetadata, VideoReader


def probe(path: str | os.PathLike[str]) -> VideoMetadata:
    """Metadata only; raises ``InvalidVideo`` for anything we could not analyze."""
    with VideoReader(path) as video:
        return video.metadata


def sample_frames(
    path: str | os.PathLike[str], fps: float | None = None, *, every_ms: float | None = None
) -> Iterator[SampledFrame]:
    """Open, sample, release. The file is opened at the first ``next``."""

    def frames() -> Iterator[SampledFrame]:
        with VideoReader(path) as video:
            yield from video.sample(fps, every_ms=every_ms)

    return frames()
