"""Results documents as people read them: label segments, text spans, CSV rows, a summary.

Reads results ``schema_version`` 2 (``segments``, ``track_id``) and falls back for version 1:
no track ids, and one segment per label or line, from its summary's first and last time seen.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

CSV_HEADER = ["timestamp_ms", "kind", "label", "text", "confidence", "track_id",
              "x", "y", "w", "h"]  # fmt: skip


def object_segments(results: dict) -> list[dict]:
    """``{label, start_ms, end_ms, ...}`` per continuous run of a label."""
    if "segments" in results:
        return results["segments"]["objects"]
    return [
        {"label": label, "start_ms": entry["first_ms"], "end_ms": entry["last_ms"],
         "frames": entry["frames"], "max_confidence": entry["max_confidence"]}
        for label, entry in results["summary"]["objects"].items()
    ]  # fmt: skip


def text_spans(results: dict) -> list[dict]:
    """``{text, start_ms, end_ms, ...}`` per continuous run of a line of text."""
    if "segments" in results:
        return results["segments"]["text"]
    return [
        {"text": entry["text"], "start_ms": entry["first_ms"], "end_ms": entry["last_ms"],
         "frames": entry["frames"],
         "max_confidence": entry.get("max_confidence", entry.get("best_confidence"))}
        for entry in results["summary"]["text"]
    ]  # fmt: skip


def _bounds(polygon: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), round(max(xs) - min(xs), 4), round(max(ys) - min(ys), 4)


def csv_rows(results: dict) -> Iterator[list]:
    """One row per detected object and per line of text, in frame order."""
    for frame in results["frames"]:
        ms = frame["timestamp_ms"]
        for obj in frame["objects"]:
            box = obj["box"]
            yield [ms, "object", obj["label"], "", obj["confidence"], obj.get("track_id", ""),
                   box["x"], box["y"], box["w"], box["h"]]  # fmt: skip
        for line in frame["text"]:
            yield [ms, "text", "", line["text"], line["confidence"], "", *_bounds(line["polygon"])]


def write_csv(results: dict, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    rows = list(csv_rows(results))
    writer.writerows([CSV_HEADER, *rows])
    return len(rows)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}"


def _ranges(spans: list[dict]) -> str:
    return ", ".join(f"{_seconds(s['start_ms'])}-{_seconds(s['end_ms'])} s" for s in spans)


def summary_lines(results: dict) -> list[str]:
    """Each label with its time ranges, then each text span."""
    by_label: dict[str, list[dict]] = {}
    for segment in object_segments(results):
        by_label.setdefault(segment["label"], []).append(segment)
    lines = [f"objects ({len(by_label)} labels):" if by_label else "objects: none"]
    width = max((len(label) for label in by_label), default=0)
    for label in sorted(by_label):
        spans = sorted(by_label[label], key=lambda s: s["start_ms"])
        lines.append(f"  {label:<{width}}  {_ranges(spans)}")
    spans = sorted(text_spans(results), key=lambda s: (s["start_ms"], s["text"]))
    lines.append(f"text ({len(spans)} spans):" if spans else "text: none")
    lines.extend(f"  {_ranges([s])}  {s['text']!r}" for s in spans)
    return lines
