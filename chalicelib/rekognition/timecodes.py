"""Frame numbers as Rekognition reports them: milliseconds and SMPTE timecodes.

Milliseconds are a frame's number over the frame rate, rounded down (Rekognition: "100.6667
milliseconds ... returns a value of 100"). The results document keeps the rate rounded to three
decimals, so the NTSC rates (24, 30, 60, 120 x 1000/1001) are taken back to their exact
fractions: 29.97 instead of 30000/1001 would put a frame 20 ms off after five hours.

Timecodes are ``HH:MM:SS:FF`` at the nominal (whole) rate. At 29.97 and 59.94 frames/s they are
drop-frame, ``HH:MM:SS;FF``: the labels ``;00`` and ``;01`` (``;00`` to ``;03`` at 59.94) of
every minute are skipped, except in minutes divisible by ten, so that the labels keep up with
the clock (no frame is dropped, only labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

NTSC_TOLERANCE = 0.002  # frames/s: 29.97 (three decimals) is 30000/1001 within this
DROP_FRAME_NOMINAL = (30, 60)  # the rates SMPTE drop-frame timecode is defined for


@dataclass(frozen=True)
class FrameClock:
    """One video's frame rate: ``rate`` exact, ``nominal`` the whole frames a timecode second
    counts, ``drop`` the labels skipped at the start of most minutes (0: non-drop-frame)."""

    rate: Fraction
    nominal: int
    drop: int

    @classmethod
    def of(cls, fps: float) -> FrameClock:
        """The clock of a video whose rate the results document gives as ``fps`` (> 0)."""
        nominal = max(1, round(fps))
        ntsc = Fraction(nominal * 1000, 1001)
        if abs(fps - float(ntsc)) < NTSC_TOLERANCE:
            drop = nominal // 15 if nominal in DROP_FRAME_NOMINAL else 0
            return cls(ntsc, nominal, drop)
        return cls(Fraction(str(fps)), nominal, 0)

    def millis(self, frame: int) -> int:
        """When frame number ``frame`` (from 0) starts, in whole milliseconds (rounded down)."""
        return math.floor(frame * 1000 / self.rate)

    def smpte(self, frames: int) -> str:
        """The timecode that labels frame number ``frames`` (or a duration of that many)."""
        label = frames + self._skipped_before(frames)
        per_hour = self.nominal * 3600
        hours, rest = divmod(label, per_hour)
        minutes, rest = divmod(rest, self.nominal * 60)
        seconds, frame = divmod(rest, self.nominal)
        last = ";" if self.drop else ":"
        width = len(str(self.nominal - 1))
        return f"{hours:02d}:{minutes:02d}:{seconds:02d}{last}{frame:0{max(2, width)}d}"

    def _skipped_before(self, frames: int) -> int:
        """How many labels drop-frame counting skipped before frame number ``frames``: ``drop``
        in each minute but every tenth, the first minute of every ten having all its labels."""
        if not self.drop:
            return 0
        per_minute = self.nominal * 60 - self.drop  # frames in a minute that skips labels
        per_ten = self.nominal * 60 + 9 * per_minute  # frames in ten minutes
        tens, rest = divmod(frames, per_ten)
        skipped = 9 * self.drop * tens
        if rest >= self.nominal * 60:  # past the ten-minute block's first (full) minute
            skipped += self.drop * (1 + (rest - self.nominal * 60) // per_minute)
        return skipped
