"""Label segments and text spans on synthetic frames."""

from dataclasses import dataclass, field

from chalicelib.results.segments import GAP_TOLERANCE, label_segments, text_spans


@dataclass(frozen=True)
class Det:
    label: str
    confidence: float = 0.9


@dataclass(frozen=True)
class Line:
    text: str
    polygon: tuple
    confidence: float = 0.95


@dataclass(frozen=True)
class Frame:
    timestamp_ms: int
    objects: tuple = ()
    text: tuple = field(default_factory=tuple)


def quad(x0, y0, x1, y1):
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def frames_of(objects=None, text=None, n=None):
    n = n or len(objects or text)
    objects = objects or [()] * n
    text = text or [()] * n
    return [
        Frame(i * 1000, tuple(o), tuple(t))
        for i, (o, t) in enumerate(zip(objects, text, strict=True))
    ]


def test_a_label_missing_from_one_sample_stays_one_segment():
    dog = [[Det("dog", 0.6)], [], [Det("dog", 0.8)], [Det("dog")] * 2]
    assert GAP_TOLERANCE == 1
    assert label_segments(frames_of(dog)) == [
        {"label": "dog", "start_ms": 0, "end_ms": 3000, "frames": 3, "max_confidence": 0.9}
    ]


def test_a_longer_absence_splits_the_segment():
    dog = [[Det("dog")], [], [], [Det("dog", 0.5)]]
    assert label_segments(frames_of(dog)) == [
        {"label": "dog", "start_ms": 0, "end_ms": 0, "frames": 1, "max_confidence": 0.9},
        {"label": "dog", "start_ms": 3000, "end_ms": 3000, "frames": 1, "max_confidence": 0.5},
    ]


def test_segments_are_ordered_by_start_then_label():
    objects = [[Det("person")], [Det("person"), Det("cat")], [Det("bird"), Det("cat")]]
    got = [(s["label"], s["start_ms"], s["end_ms"]) for s in label_segments(frames_of(objects))]
    assert got == [("person", 0, 1000), ("cat", 1000, 2000), ("bird", 2000, 2000)]


def test_one_sign_over_consecutive_samples_is_one_span():
    sign = Line("EXIT 24", quad(0.1, 0.1, 0.3, 0.15))
    moved = Line("EXIT 24", quad(0.11, 0.1, 0.31, 0.15), 0.99)
    (span,) = text_spans(frames_of(text=[[sign], [moved], [], [sign]]))
    assert (span["text"], span["start_ms"], span["end_ms"], span["frames"]) == (
        "EXIT 24",
        0,
        3000,
        3,
    )
    assert span["max_confidence"] == 0.99 and span["polygon"] == sign.polygon


def test_the_same_text_elsewhere_is_another_span():
    left, right = Line("OPEN", quad(0.1, 0.1, 0.2, 0.15)), Line("OPEN", quad(0.7, 0.1, 0.8, 0.15))
    spans = text_spans(frames_of(text=[[left, right], [left, right]]))
    assert [(s["text"], s["frames"]) for s in spans] == [("OPEN", 2), ("OPEN", 2)]


def test_a_sign_read_whole_then_in_parts_is_one_span_with_the_fullest_reading():
    whole = Line("HELLO WORLD", quad(0.1, 0.1, 0.5, 0.2))
    hello, world = (
        Line("HELLO", quad(0.1, 0.1, 0.28, 0.2)),
        Line("WORLD", quad(0.32, 0.1, 0.5, 0.2)),
    )
    (span,) = text_spans(frames_of(text=[[whole], [hello, world], [hello]]))
    assert (span["text"], span["frames"], span["end_ms"]) == ("HELLO WORLD", 3, 2000)


def test_parts_then_a_whole_reading_merge_into_one_span():
    hello, world = (
        Line("HELLO", quad(0.1, 0.1, 0.28, 0.2)),
        Line("WORLD", quad(0.32, 0.1, 0.5, 0.2)),
    )
    whole = Line("HELLO WORLD", quad(0.1, 0.1, 0.5, 0.2), 0.97)
    (span,) = text_spans(frames_of(text=[[hello, world], [hello, world], [whole]]))
    assert (span["text"], span["start_ms"], span["end_ms"], span["frames"]) == (
        "HELLO WORLD", 0, 2000, 3,
    )  # fmt: skip
    assert span["polygon"] == whole.polygon


def test_different_words_in_one_place_are_different_spans():
    one, two = Line("SALE", quad(0.1, 0.1, 0.3, 0.2)), Line("OPEN", quad(0.1, 0.1, 0.3, 0.2))
    spans = text_spans(frames_of(text=[[one], [two]]))
    assert [s["text"] for s in spans] == ["SALE", "OPEN"]
