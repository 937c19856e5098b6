"""Results documents as people read them: label segments, text spans, shots and technical
cues, CSV rows, a summary.

Reads results ``schema_version`` 2 (``segments``, ``track_id``; ``segments.shots`` and
``segments.technical_cues`` from the ``shots`` pipeline) and falls back for version 1: no track
ids, and one segment per label or line, from its summary's first and last time seen.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

# Rows of kind object and text fill the first ten columns; shot and cue rows (the shots
# pipeline) put their start in timestamp_ms, the shot's index or the cue's type in label, and
# fill end_ms, start_frame and end_frame (inclusive) instead of the box.
CSV_HEADER = ["timestamp_ms", "kind", "label", "text", "confidence", "track_id",
              "x", "y", "w", "h", "end_ms", "start_frame", "end_frame"]  # fmt: skip
_NO_BOX = ["", "", "", ""]


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


def shots(results: dict) -> list[dict]:
    """``segments.shots`` (the shots pipeline), or none."""
    return results.get("segments", {}).get("shots", [])


def technical_cues(results: dict) -> list[dict]:
    """``segments.technical_cues`` (the shots pipeline), or none."""
    return results.get("segments", {}).get("technical_cues", [])


def _bounds(polygon: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), round(max(xs) - min(xs), 4), round(max(ys) - min(ys), 4)


def csv_rows(results: dict) -> Iterator[list]:
    """One row per detected object and per line of text, in frame order; then one per shot and
    one per technical cue, in time order."""
    for frame in results["frames"]:
        ms = frame["timestamp_ms"]
        for obj in frame["objects"]:
            box = obj["box"]
            yield [ms, "object", obj["label"], "", obj["confidence"], obj.get("track_id", ""),
                   box["x"], box["y"], box["w"], box["h"], "", "", ""]  # fmt: skip
        for line in frame["text"]:
            yield [ms, "text", "", line["text"], line["confidence"], "",
                   *_bounds(line["polygon"]), "", "", ""]  # fmt: skip
    for kind, label, spans in (("shot", "index", shots(results)),
                               ("cue", "type", technical_cues(results))):  # fmt: skip
        for span in spans:
            yield [span["start_ms"], kind, span[label], "", span["confidence"], "", *_NO_BOX,
                   span["end_ms"], span["start_frame"], span["end_frame"]]  # fmt: skip


def write_csv(results: dict, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    rows = list(csv_rows(results))
    writer.writerows([CSV_HEADER, *rows])
    return len(rows)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}"


def _ranges(spans: list[dict]) -> str:
    return ", ".join(f"{_seconds(s['start_ms'])}-{_seconds(s['end_ms'])} s" for s in spans)


def _time(ms: int) -> str:
    return f"{ms / 1000:.2f}"


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as columns two spaces apart, each as wide as its widest cell, indented two."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip


def shot_lines(results: dict) -> list[str]:
    """A table of the shots (index, start-end time, frames, confidence), then one of the
    technical cues (type, time, frames); nothing for a document without shots."""
    if "shots" not in results.get("segments", {}):
        return []
    found, cues = shots(results), technical_cues(results)
    lines = [f"shots ({len(found)}):" if found else "shots: none"]
    if found:
        lines.extend(_table([["#", "time (s)", "frames", "confidence"]] + [
            [str(s["index"]), f"{_time(s['start_ms'])}-{_time(s['end_ms'])}",
             f"{s['start_frame']}-{s['end_frame']}", f"{s['confidence']:.2f}"] for s in found
        ]))  # fmt: skip
    lines.append(f"technical cues ({len(cues)}):" if cues else "technical cues: none")
    if cues:
        lines.extend(_table([["type", "time (s)", "frames"]] + [
            [c["type"], f"{_time(c['start_ms'])}-{_time(c['end_ms'])}",
             f"{c['start_frame']}-{c['end_frame']}"] for c in cues
        ]))  # fmt: skip
    return lines


def summary_lines(results: dict) -> list[str]:
    """Each label with its time ranges, then each text span; for the shots pipeline, its shots
    and technical cues (and the labels and text only if there are any)."""
    segments = object_segments(results), text_spans(results)
    if "shots" in results.get("segments", {}) and not any(segments):
        return shot_lines(results)
    return _label_lines(results) + shot_lines(results)


def _label_lines(results: dict) -> list[str]:
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
