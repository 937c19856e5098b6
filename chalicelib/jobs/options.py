"""``JobOptions``: everything a caller may choose per job, as every stage reads it.

The intake parses them from a request (``chalicelib/intake/params.py``), the job row keeps them
(``row_options``), and the analyzer and the results rebuild them from the row (``from_record``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from chalicelib.config import (
    DEFAULT_DETECTOR_SIZE,
    DEFAULT_OBJECT_MIN_CONFIDENCE,
    DEFAULT_TEXT_MIN_CONFIDENCE,
    DEFAULT_TEXT_SCRIPTS,
)
from chalicelib.jobs.record import JobRecord


@dataclass(frozen=True)
class JobOptions:
    """Everything a caller may choose per job. ``pipeline_id`` and ``sample_fps`` have their own
    columns on the job row; the rest go to its ONE ``options`` attribute, holding only what
    differs from the defaults (``row_options``); ``from_record`` rebuilds the options from a row.
    """

    pipeline_id: str
    sample_fps: float | None = None
    min_confidence: float = DEFAULT_OBJECT_MIN_CONFIDENCE  # objects
    labels: tuple[str, ...] | None = None  # None: every label
    exclude_labels: tuple[str, ...] = ()
    text_min_confidence: float = DEFAULT_TEXT_MIN_CONFIDENCE
    text_scripts: str = DEFAULT_TEXT_SCRIPTS
    shots: bool = False  # find shots and technical cues too (always, in the shots pipeline)
    # black frames (technical cues): Rekognition's TechnicalCueFilter.BlackFrame
    black_max_pixel_threshold: float = 0.2
    black_min_coverage_percentage: float = 99.0
    callback_url: str | None = None  # POSTed a signed event when the job ends (notices/)
    rekognition: dict[str, Any] | None = None  # the Start* request of a Rekognition API job
    detector_size: int = DEFAULT_DETECTOR_SIZE  # the detector's input, pixels a side
    # a tenant's own detector instead of the built-in one: ``ModelRecord.snapshot`` as the job
    # was submitted (chalicelib/models/), so the analyzer loads exactly that file
    model: dict[str, Any] | None = None

    def row_options(self) -> dict[str, Any]:
        """The options a job row keeps in its one ``options`` attribute: every option other
        than the two with their own columns, when it differs from its default."""
        own_columns = {"pipeline_id", "sample_fps"}
        return {
            option.name: getattr(self, option.name)
            for option in fields(self)
            if option.name not in own_columns and getattr(self, option.name) != option.default
        }

    @classmethod
    def from_record(cls, job: JobRecord) -> JobOptions:
        """The options a job was submitted with (a stored list comes back as a tuple)."""
        stored: dict[str, Any] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in job.options.items()
        }
        return cls(job.pipeline_id, job.sample_fps, **stored)

    @property
    def finds_shots(self) -> bool:
        return self.shots or self.pipeline_id == "shots"

    def result_options(self) -> dict[str, Any]:
        """The result options in full, as the results document echoes them: ``detector_size``
        only when it is not the default, so a job that leaves it alone gets the very bytes it
        got before the option existed, and those of shots only when the job finds them."""
        echoed: dict[str, Any] = {
            "min_confidence": self.min_confidence,
            "labels": None if self.labels is None else list(self.labels),
            "exclude_labels": list(self.exclude_labels),
            "text_min_confidence": self.text_min_confidence,
            "text_scripts": self.text_scripts,
        }
        if self.detector_size != DEFAULT_DETECTOR_SIZE:
            echoed["detector_size"] = self.detector_size
        if self.model is not None:  # only a job that names a model echoes one
            echoed["model_id"] = self.model["model_id"]
        if self.finds_shots:
            echoed.update(
                shots=True,
                black_max_pixel_threshold=self.black_max_pixel_threshold,
                black_min_coverage_percentage=self.black_min_coverage_percentage,
            )
        return echoed

    def wants_label(self, label: str) -> bool:
        """Whether the job's label filters keep objects of this label."""
        if self.labels is not None and label not in self.labels:
            return False
        return label not in self.exclude_labels
