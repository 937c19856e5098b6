"""Words of a line and the default text filter, on synthetic lines."""

import pytest

from chalicelib.results.text_lines import (
    LONE_GLYPH_MAX_HEIGHT,
    Glyph,
    TextFilter,
    TextLine,
    proportional_glyphs,
    script_of,
    words,
)


def quad(x0, y0, x1, y1):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def flat(polygon):
    return [v for point in polygon for v in point]


def placed(text, x0=0.1, y0=0.1, width=0.02, height=0.05, confidence=0.95, confidences=None):
    """A line with one glyph per character, each ``width`` wide, left to right."""
    glyphs = tuple(
        Glyph(c, (confidences or [confidence] * len(text))[i],
              quad(x0 + i * width, y0, x0 + (i + 1) * width, y0 + height))
        for i, c in enumerate(text)
    )  # fmt: skip
    polygon = quad(x0, y0, x0 + len(text) * width, y0 + height)
    return TextLine(text, confidence, polygon, glyphs)


def test_words_are_runs_between_spaces_with_their_own_boxes_and_mean_confidence():
    line = placed("EXIT 24", confidences=[0.9, 0.8, 1.0, 0.9, 0.5, 0.6, 0.8])
    exit_, number = words(line)
    assert (exit_.text, number.text) == ("EXIT", "24")
    assert exit_.confidence == pytest.approx(0.9) and number.confidence == pytest.approx(0.7)
    assert flat(exit_.polygon) == pytest.approx(flat(quad(0.1, 0.1, 0.18, 0.15)))
    assert number.polygon[0][0] == pytest.approx(0.1 + 5 * 0.02)


def test_without_character_boxes_the_line_is_split_in_proportion():
    line = TextLine("AB CD", 0.9, quad(0.0, 0.0, 0.5, 0.1))
    assert len(proportional_glyphs(line)) == 5
    first, second = words(line)
    assert flat(first.polygon) == pytest.approx(flat(quad(0.0, 0.0, 0.2, 0.1)))
    assert second.polygon[0][0] == pytest.approx(0.3) and second.confidence == 0.9


def test_scripts():
    assert [script_of(c) for c in "A9%é "] == ["latin", "latin", "latin", "latin", "space"]
    assert [script_of(c) for c in "国人口，"] == ["chinese"] * 4
    assert script_of("あ") == "other"


def test_lines_below_the_confidence_cut_are_dropped():
    lines = [placed("SALE", confidence=0.79), placed("OPEN", confidence=0.8)]
    assert [ln.text for ln in TextFilter().apply(lines, 16 / 9)] == ["OPEN"]
    assert len(TextFilter(min_confidence=0.5).apply(lines, 16 / 9)) == 2


def test_latin_drops_chinese_lines_and_characters_keeping_the_latin_words_in_place():
    lines = [placed("国"), placed("人口"), placed("国 SAM")]
    (kept,) = TextFilter().apply(lines, 16 / 9)
    assert kept.text == "SAM" and [w.text for w in words(kept)] == ["SAM"]
    assert kept.polygon[0][0] == pytest.approx(0.1 + 2 * 0.02)  # starts where S does
    both = TextFilter(scripts="latin+chinese").apply(lines, 16 / 9)
    assert [ln.text for ln in both] == ["国", "人口", "国 SAM"]


def test_a_chinese_character_inside_a_word_splits_it_and_punctuation_alone_is_dropped():
    (kept,) = TextFilter().apply([placed("AB国CD"), placed("-国-")], 16 / 9)
    assert kept.text == "AB CD" and [w.text for w in words(kept)] == ["AB", "CD"]


def test_a_lone_glyph_taller_than_the_limit_is_dropped_small_ones_and_words_stay():
    short_side_share = LONE_GLYPH_MAX_HEIGHT + 0.01
    big_x = placed("X", height=short_side_share, width=0.1)
    small_x = placed("X", height=LONE_GLYPH_MAX_HEIGHT - 0.01)
    big_word = placed("CUT", height=0.3)
    kept = TextFilter().apply([big_x, small_x, big_word], 16 / 9)
    assert [(ln.text, ln.polygon) for ln in kept] == [
        ("X", small_x.polygon), ("CUT", big_word.polygon),
    ]  # fmt: skip


def test_the_lone_glyph_limit_is_a_share_of_the_short_side():
    """On a vertical frame (9:16) the short side is the width: a relative height of 0.1 is
    0.1 * 16/9 = 0.18 of it."""
    glyph = placed("U", height=0.1)
    assert TextFilter().apply([glyph], 16 / 9) == [glyph]
    assert TextFilter().apply([glyph], 9 / 16) == []
