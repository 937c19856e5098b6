"""GetLabelDetection's ``Labels`` from a stored results document.

Filters (MinConfidence, the GeneralLabels inclusion and exclusion lists) apply here, at Get time,
to the per-frame detections the analyzer stored, so they hold whatever the pipeline kept.
Confidences become percentages; boxes become Rekognition's {Width, Height, Left, Top}.
"""

from __future__ import annotations

from chalicelib.results.labels import LabelInfo, label_info

DEFAULT_MIN_CONFIDENCE_PERCENT = 50.0  # as Rekognition's MinConfidence


def percent(confidence: float) -> float:
    return round(confidence * 100, 2)


def bounding_box(box: dict) -> dict:
    return {"Width": box["w"], "Height": box["h"], "Left": box["x"], "Top": box["y"]}


class LabelFilter:
    """The label filters of one StartLabelDetection request."""

    def __init__(self, request: dict):
        self.min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE_PERCENT) / 100
        general = request.get("Settings", {}).get("GeneralLabels", {})

        def names(key: str) -> set[str]:
            return {name.lower() for name in general.get(key, [])}

        self.include, self.exclude = names("LabelInclusionFilters"), names("LabelExclusionFilters")
        self.include_categories = names("LabelCategoryInclusionFilters")
        self.exclude_categories = names("LabelCategoryExclusionFilters")

    def allows(self, info: LabelInfo, confidence: float) -> bool:
        name, category = info.name.lower(), (info.category or "").lower()
        return (
            confidence >= self.min_confidence
            and (not self.include or name in self.include)
            and name not in self.exclude
            and (not self.include_categories or category in self.include_categories)
            and category not in self.exclude_categories
        )


def by_timestamp(
    frames: list[dict], accept: LabelFilter, tracks: list[dict] | None = None
) -> list[dict]:
    """One entry per label per sampled frame, with its instances (best first); an object is
    named by its track's label (``tracks``: the document's), decided over the track's life."""
    named = {track["track_id"]: track["label"] for track in tracks or ()}
    entries = []
    for frame in frames:
        found: dict[str, tuple[LabelInfo, list[dict]]] = {}
        for detection in frame.get("objects", []):
            info = label_info(named.get(detection.get("track_id"), detection["label"]))
            if accept.allows(info, detection["confidence"]):
                found.setdefault(info.name, (info, []))[1].append(detection)
        for info, detections in found.values():
            detections.sort(key=lambda d: -d["confidence"])
            label = {
                **label_json(info),
                "Confidence": percent(detections[0]["confidence"]),
                "Instances": [
                    {"BoundingBox": bounding_box(d["box"]), "Confidence": percent(d["confidence"])}
                    for d in detections
                ],
            }
            entries.append({"Timestamp": frame["timestamp_ms"], "Label": label})
    return entries


def segments(results: dict, accept: LabelFilter) -> list[dict]:
    """One entry per run of frames a label was seen in: the stored segments (schema 2) if the
    document has them, else runs of consecutive sampled frames derived here."""
    stored = results.get("segments", {}).get("objects")
    if stored is None:
        stored = _runs(results["frames"], accept)
    entries = []
    for segment in stored:
        info = label_info(segment["label"])
        if not accept.allows(info, segment["max_confidence"]):
            continue
        start, end = segment["start_ms"], segment["end_ms"]
        entries.append(
            {
                "Timestamp": start,
                "Label": {**label_json(info), "Confidence": percent(segment["max_confidence"])},
                "StartTimestampMillis": start,
                "EndTimestampMillis": end,
                "DurationMillis": end - start,
            }
        )
    return entries


def _runs(frames: list[dict], accept: LabelFilter) -> list[dict]:
    open_runs: dict[str, dict] = {}
    closed: list[dict] = []
    for frame in frames:
        seen: dict[str, float] = {}
        for detection in frame.get("objects", []):
            if accept.allows(label_info(detection["label"]), detection["confidence"]):
                label = detection["label"]
                seen[label] = max(seen.get(label, 0.0), detection["confidence"])
        for label in [label for label in open_runs if label not in seen]:
            closed.append(open_runs.pop(label))
        for label, confidence in seen.items():
            run = open_runs.setdefault(
                label, {"label": label, "start_ms": frame["timestamp_ms"], "max_confidence": 0.0}
            )
            run["end_ms"] = frame["timestamp_ms"]
            run["max_confidence"] = max(run["max_confidence"], confidence)
    return closed + list(open_runs.values())


def sort_labels(entries: list[dict], sort_by: str) -> list[dict]:
    if sort_by == "NAME":
        return sorted(entries, key=lambda e: (e["Label"]["Name"], e["Timestamp"]))
    return sorted(entries, key=lambda e: (e["Timestamp"], e["Label"]["Name"]))


def label_json(info: LabelInfo) -> dict:
    """The members of a Rekognition ``Label`` that do not depend on the detection."""
    return {
        "Name": info.name,
        "Parents": [{"Name": parent} for parent in info.parents],
        "Aliases": [],
        "Categories": [{"Name": info.category}] if info.category else [],
    }
