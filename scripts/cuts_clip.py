"""A test clip with known shot boundaries, joined from the sample clips (real footage).

    python -m scripts.cuts_clip OUT.mp4     # writes the clip, prints its boundaries as JSON

640x360 at 25 frames/s, H.264, about 16 s. Each part is a run of consecutive frames of one
sample clip (played at 25 frames/s whatever its own rate, so motion stays continuous), scaled and
padded to 640x360. Between them: hard cuts, a one-second cross-fade, and a second of black. The
boundaries are known by construction (``BOUNDARIES``), as frame numbers of the joined clip.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "videos"
FPS = 25
SIZE = (640, 360)
FADE_FRAMES = 25  # one second
BLACK_FRAMES = 25


@dataclass(frozen=True)
class Part:
    clip: str
    frames: int


@dataclass(frozen=True)
class Boundary:
    frame: int  # the first frame of what follows
    kind: str  # "cut", "fade" (the middle of a cross-fade), "black" (first and after last)


# (part, how it joins the next one)
PLAN: list[tuple[Part, str]] = [
    (Part("soccer_juggle.mp4", 60), "cut"),
    (Part("highway_dashcam.mp4", 60), "cut"),
    (Part("dog_and_woman.mp4", 70), "fade"),
    (Part("letter_blocks.mp4", 70), "black"),
    (Part("people_indoor.mp4", 60), "cut"),
    (Part("cars_parking_aerial.mp4", 60), "end"),
]


def _frames(clip: str, count: int, skip: int = 0) -> Iterator[np.ndarray]:
    with av.open(str(VIDEOS / clip)) as container:
        decoded = container.decode(video=0)
        for _ in range(skip):
            next(decoded)
        for _, frame in zip(range(count), decoded, strict=False):
            yield _fit(frame.to_ndarray(format="rgb24"))


def _fit(image: np.ndarray) -> np.ndarray:
    """Scaled (nearest rows and columns) and centred on black, 640x360."""
    height, width = image.shape[:2]
    scale = min(SIZE[0] / width, SIZE[1] / height)
    new_w, new_h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    rows = (np.arange(new_h) / scale).astype(int)
    cols = (np.arange(new_w) / scale).astype(int)
    out = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    top, left = (SIZE[1] - new_h) // 2, (SIZE[0] - new_w) // 2
    out[top : top + new_h, left : left + new_w] = image[rows][:, cols]
    return out


def _pictures() -> tuple[list[np.ndarray], list[Boundary]]:
    pictures: list[np.ndarray] = []
    boundaries: list[Boundary] = []
    carried: list[np.ndarray] = []  # the last frames of the part before a cross-fade
    for part, join in PLAN:
        frames = list(_frames(part.clip, part.frames + (FADE_FRAMES if join == "fade" else 0)))
        if carried:  # this part fades in over the last frames of the one before
            start = len(pictures)
            for step, (old, new) in enumerate(zip(carried, frames, strict=False)):
                share = (step + 1) / (FADE_FRAMES + 1)
                pictures.append(np.round(old * (1 - share) + new * share).astype(np.uint8))
            boundaries.append(Boundary(start + FADE_FRAMES // 2, "fade"))
            frames, carried = frames[FADE_FRAMES:], []
        if join == "fade":
            pictures.extend(frames[: part.frames - FADE_FRAMES])
            carried = frames[part.frames - FADE_FRAMES : part.frames]
            continue
        pictures.extend(frames)
        if join == "black":
            boundaries.append(Boundary(len(pictures), "black"))
            pictures.extend(np.zeros((SIZE[1], SIZE[0], 3), np.uint8) for _ in range(BLACK_FRAMES))
            boundaries.append(Boundary(len(pictures), "black"))
        elif join == "cut":
            boundaries.append(Boundary(len(pictures), "cut"))
    return pictures, boundaries


def build(path: str | Path) -> list[Boundary]:
    """Write the clip to ``path``; its boundaries."""
    pictures, boundaries = _pictures()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "threads": "1"}
        for picture in pictures:
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return boundaries


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m scripts.cuts_clip OUT.mp4")
    print(json.dumps([asdict(b) for b in build(sys.argv[1])]))
