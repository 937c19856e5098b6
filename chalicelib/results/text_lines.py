"""Lines of text as the results report them: their words, and the default filter against misreads.

Pure Python (no numpy): the OCR builds ``TextLine``s, this module decides which to report.

Words. RapidOCR places each recognised character (``return_word_box``: a box per character,
centred on the recogniser's column for it, as wide as the line's average character). A word is
a run of characters between spaces; its polygon runs from its first character's left edge to
its last character's right edge, and its confidence is the mean of its characters' (RapidOCR's
line confidence is the mean over the line's). A line without character boxes (or with a count
that does not match its text) is split along its polygon in proportion to character positions.

The default filter (``TextFilter``), measured on the seven sample clips (README, CHANGELOG):
1. confidence: a line below ``min_confidence`` (0.8 by default, Rekognition's) is dropped;
2. scripts: characters outside the chosen scripts are removed (``latin``: Latin letters, digits,
   punctuation and symbols; ``latin+chinese`` also CJK ideographs and punctuation), and a line
   left with no letter or digit is dropped. The OCR model reads Chinese, so on Latin scenes it
   turns shapes into CJK characters (a letter block read as 国, a running dog as 人);
3. lone glyphs: a line of a single character taller than ``LONE_GLYPH_MAX_HEIGHT`` of the
   frame's short side is dropped. Text that large comes in words (captions, titles); on the
   sample clips every lone glyph that large was a shape (a table foot read as X at up to 0.90,
   legs as U, a car roof as 口): 0.16-0.68 of the short side, against 0.06-0.12 for the real
   single letters on letter blocks. A single large letter on a sign is the price.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from chalicelib.config import DEFAULT_TEXT_MIN_CONFIDENCE, DEFAULT_TEXT_SCRIPTS

Point = tuple[float, float]
LONE_GLYPH_MAX_HEIGHT = 0.15  # of the frame's short side


@dataclass(frozen=True)
class Glyph:
    """One character of a line, with its own polygon (relative, like the line's)."""

    char: str
    confidence: float
    polygon: tuple[Point, ...]


@dataclass(frozen=True)
class TextLine:
    """One line of text; ``polygon`` is 4 (x, y) corners, clockwise from top-left, relative to
    the frame (0..1) like detection boxes. ``glyphs``: one per character of ``text``, if known."""

    text: str
    confidence: float
    polygon: tuple[Point, ...]
    glyphs: tuple[Glyph, ...] = ()


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float
    polygon: tuple[Point, ...]


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def proportional_glyphs(line: TextLine) -> tuple[Glyph, ...]:
    """Glyphs cut from the line's polygon in equal steps along its top and bottom edges."""
    if len(line.polygon) != 4 or not line.text:
        return ()
    tl, tr, br, bl = line.polygon
    n = len(line.text)
    return tuple(
        Glyph(
            char,
            line.confidence,
            (
                _lerp(tl, tr, i / n),
                _lerp(tl, tr, (i + 1) / n),
                _lerp(bl, br, (i + 1) / n),
                _lerp(bl, br, i / n),
            ),
        )  # fmt: skip
        for i, char in enumerate(line.text)
    )


def glyphs_of(line: TextLine) -> tuple[Glyph, ...]:
    glyphs = getattr(line, "glyphs", ())  # TextLine-like objects may have none
    if len(glyphs) == len(line.text) and all(len(g.polygon) == 4 for g in glyphs):
        return tuple(glyphs)
    return proportional_glyphs(line)


def _span(glyphs: Sequence[Glyph]) -> tuple[Point, ...]:
    first, last = glyphs[0].polygon, glyphs[-1].polygon
    return (first[0], last[1], last[2], first[3])


def words(line: TextLine) -> list[Word]:
    """The line's words (runs of characters between spaces), left to right."""
    runs: list[list[Glyph]] = [[]]
    for glyph in glyphs_of(line):
        if glyph.char.isspace():
            runs.append([])
        else:
            runs[-1].append(glyph)
    return [
        Word(
            "".join(g.char for g in run),
            sum(g.confidence for g in run) / len(run),
            _span(run),
        )
        for run in runs
        if run
    ]


def script_of(char: str) -> str:
    """ "latin" (Latin letters, digits, punctuation, symbols), "chinese", "space" or "other"."""
    if char.isspace():
        return "space"
    cp = ord(char)
    if cp < 0x250 or 0x1E00 <= cp < 0x1F00 or 0x2000 <= cp < 0x2070 or 0x20A0 <= cp < 0x20D0:
        return "latin"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x3000 <= cp <= 0x303F:
        return "chinese"
    if 0xFF00 <= cp <= 0xFFEF:  # full-width forms: the punctuation of Chinese text
        return "chinese"
    return "other"


@dataclass(frozen=True)
class TextFilter:
    min_confidence: float = DEFAULT_TEXT_MIN_CONFIDENCE
    scripts: str = DEFAULT_TEXT_SCRIPTS  # "latin" or "latin+chinese"

    def apply(self, lines: Iterable[TextLine], aspect: float) -> list[TextLine]:
        """The lines worth reporting from one frame ``aspect`` (width / height) wide."""
        kept = []
        for line in lines:
            if line.confidence < self.min_confidence:
                continue
            in_scripts = self._in_scripts(line)
            if in_scripts is not None and not _lone_glyph_too_large(in_scripts, aspect):
                kept.append(in_scripts)
        return kept

    def _in_scripts(self, line: TextLine) -> TextLine | None:
        allowed = {"space", *self.scripts.split("+")}
        if all(script_of(c) in allowed for c in line.text):
            return line
        glyphs = [
            g if script_of(g.char) in allowed else replace(g, char=" ") for g in glyphs_of(line)
        ]
        glyphs = _squeeze_spaces(glyphs)
        visible = [g for g in glyphs if not g.char.isspace()]
        if not any(g.char.isalnum() for g in visible):
            return None
        return TextLine(
            "".join(g.char for g in glyphs),
            sum(g.confidence for g in visible) / len(visible),
            _span(glyphs),
            tuple(glyphs),
        )


def _squeeze_spaces(glyphs: list[Glyph]) -> list[Glyph]:
    """No leading, trailing or repeated spaces."""
    out: list[Glyph] = []
    for glyph in glyphs:
        if glyph.char.isspace() and (not out or out[-1].char.isspace()):
            continue
        out.append(glyph)
    while out and out[-1].char.isspace():
        out.pop()
    return out


def _lone_glyph_too_large(line: TextLine, aspect: float) -> bool:
    if len(line.text.replace(" ", "")) != 1:
        return False
    ys = [y for _, y in line.polygon]
    # relative height -> share of the short side: height / min(width, height)
    return (max(ys) - min(ys)) / min(aspect, 1.0) > LONE_GLYPH_MAX_HEIGHT
