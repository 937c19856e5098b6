"""GetTextDetection's ``TextDetections`` from a stored results document.

Each sampled frame gives LINE entries (Id 0..n-1) followed by their WORD entries (ParentId = the
line's Id). Words come from the document (schema 2) or, where it has none, from splitting the
line at spaces along its polygon. ``Filters`` of StartTextDetection apply here, at Get time: a
word is kept if it passes WordFilter and its centre lies in a region of interest; a line is kept
if one of its words is.
"""

from __future__ import annotations

from chalicelib.rekognition.label_results import percent

DEFAULT_WORD_MIN_CONFIDENCE = 80.0  # percent, as Rekognition's


class WordFilter:
    def __init__(self, request: dict):
        filters = request.get("Filters", {})
        word = filters.get("WordFilter", {})
        self.min_confidence = word.get("MinConfidence", DEFAULT_WORD_MIN_CONFIDENCE) / 100
        self.min_height = word.get("MinBoundingBoxHeight", 0.0)
        self.min_width = word.get("MinBoundingBoxWidth", 0.0)
        self.regions = filters.get("RegionsOfInterest", [])

    def allows(self, word: dict) -> bool:
        box = bounding_box(word["polygon"])
        return (
            word["confidence"] >= self.min_confidence
            and box["Height"] >= self.min_height
            and box["Width"] >= self.min_width
            and (not self.regions or any(_inside(box, region) for region in self.regions))
        )


def bounding_box(polygon: list[list[float]]) -> dict:
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    left, top = min(xs), min(ys)
    return {
        "Width": round(max(xs) - left, 4),
        "Height": round(max(ys) - top, 4),
        "Left": left,
        "Top": top,
    }


def _inside(box: dict, region: dict) -> bool:
    x, y = box["Left"] + box["Width"] / 2, box["Top"] + box["Height"] / 2
    if "BoundingBox" in region:
        r = region["BoundingBox"]
        return r["Left"] <= x <= r["Left"] + r["Width"] and r["Top"] <= y <= r["Top"] + r["Height"]
    points = [(p["X"], p["Y"]) for p in region["Polygon"]]
    inside = False
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def split_words(line: dict) -> list[dict]:
    """Words of a line at its spaces, each with the slice of the line's polygon its characters
    span (corners: top-left, top-right, bottom-right, bottom-left)."""
    text = line["text"]
    if len(text.split()) <= 1:
        return [line]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line["polygon"][:4]

    def corner(fraction: float, top: bool) -> list[float]:
        if top:
            return [round(x0 + fraction * (x1 - x0), 4), round(y0 + fraction * (y1 - y0), 4)]
        return [round(x3 + fraction * (x2 - x3), 4), round(y3 + fraction * (y2 - y3), 4)]

    words, start = [], 0
    for word in text.split():
        start = text.index(word, start)
        a, b = start / len(text), (start + len(word)) / len(text)
        polygon = [corner(a, True), corner(b, True), corner(b, False), corner(a, False)]
        words.append({"text": word, "confidence": line["confidence"], "polygon": polygon})
        start += len(word)
    return words


def _detection(timestamp: int, item: dict, kind: str, ident: int, parent: int | None) -> dict:
    detection = {
        "DetectedText": item["text"],
        "Type": kind,
        "Id": ident,
        "Confidence": percent(item["confidence"]),
        "Geometry": {
            "BoundingBox": bounding_box(item["polygon"]),
            "Polygon": [{"X": x, "Y": y} for x, y in item["polygon"]],
        },
    }
    if parent is not None:
        detection["ParentId"] = parent
    return {"Timestamp": timestamp, "TextDetection": detection}


def text_entries(frames: list[dict], accept: WordFilter) -> list[dict]:
    entries = []
    for frame in frames:
        kept = []
        for line in frame.get("text", []):
            words = [w for w in (line.get("words") or split_words(line)) if accept.allows(w)]
            if words:
                kept.append((line, words))
        ts, next_id = frame["timestamp_ms"], len(kept)
        entries += [_detection(ts, line, "LINE", i, None) for i, (line, _) in enumerate(kept)]
        for parent, (_, words) in enumerate(kept):
            for word in words:
                entries.append(_detection(ts, word, "WORD", next_id, parent))
                next_id += 1
    return entries
