"""Query parameters are parsed strictly and error messages never echo huge input (issue 19.10).

Python's ``float()`` reads ``1_0`` as 10 and Arabic-Indic digits as numbers; a 5000-character
``pipeline_id`` was echoed in full. Through HTTP, on every route:
tests/integration/test_short_errors.py.
"""

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import BadRequest, JobNotFound, UnknownPipeline, quoted, quoted_list
from chalicelib.intake.params import parse_job_options
from chalicelib.jobs.ids import parse_job_id
from chalicelib.results.pages import results_page

LONG = "x" * 5000


def options(**params):
    return parse_job_options(params, load_settings())


@pytest.mark.parametrize(
    "fps",
    ["1_0", "١٠", "۱", "१", "１", " 2", "2 ", "+2", "-1", "0x1", "inf", "nan", "1e999", "2,5", "",
     "1e-130"],
)  # fmt: skip
def test_sample_fps_that_python_would_read_loosely_is_a_bad_request(fps):
    with pytest.raises(BadRequest, match="sample_fps must be a decimal number"):
        options(sample_fps=fps)


@pytest.mark.parametrize("fps, value", [("2", 2), ("0.5", 0.5), (".5", 0.5), ("1e-3", 0.001)])
def test_plain_decimals_are_accepted(fps, value):
    assert options(sample_fps=fps).sample_fps == value


def short(error: pytest.ExceptionInfo) -> str:
    message = error.value.message
    assert LONG[:100] not in message and len(message) < 400, message[:400]
    return message


def test_a_5000_character_pipeline_id_is_not_echoed_in_full():
    with pytest.raises(UnknownPipeline) as error:
        options(pipeline_id=LONG)
    assert "(5000 characters)" in short(error) and "yolo_ocr" in short(error)


@pytest.mark.parametrize(
    "call",
    [
        lambda: options(sample_fps=LONG),
        lambda: options(**{LONG: "1"}),
        lambda: options(**{f"p{i}": "1" for i in range(1000)}),
        lambda: parse_job_id(LONG),
        lambda: results_page({"max_frames": LONG}),
        lambda: results_page({LONG: "1"}),
    ],
    ids=["sample_fps", "parameter name", "1000 parameters", "job id", "max_frames", "page name"],
)
def test_other_long_values_are_cut_short(call):
    with pytest.raises((BadRequest, JobNotFound)) as error:
        call()
    short(error)


def test_quoted_cuts_at_40_characters_and_says_how_long_the_value_was():
    assert quoted("abc") == "'abc'"
    assert quoted("y" * 40) == repr("y" * 40)
    assert quoted("y" * 41) == f"{'y' * 40!r}... (41 characters)"
    assert quoted_list(["b", "a"]) == "'a', 'b'"
    assert quoted_list(str(i) for i in range(12)).endswith("and 7 more")


@pytest.mark.parametrize("raw", ["1", "yes", "True", "", LONG, "true "])
def test_shots_is_true_or_false(raw):
    with pytest.raises(BadRequest, match="shots must be true or false") as refused:
        options(shots=raw)
    assert len(refused.value.message) < 200


@pytest.mark.parametrize(
    "name, raw",
    [("black_max_pixel_threshold", "1.5"), ("black_max_pixel_threshold", "-0.1"),
     ("black_max_pixel_threshold", "nan"), ("black_min_coverage_percentage", "101"),
     ("black_min_coverage_percentage", "50%"), ("black_min_coverage_percentage", LONG)],
)  # fmt: skip
def test_black_frame_thresholds_are_checked(name, raw):
    with pytest.raises(BadRequest, match=f"{name} must be a decimal number from 0 to"):
        options(**{name: raw})


def test_shot_options_reach_the_job_and_the_results_echo_them_only_when_shots_are_found():
    chosen = options(pipeline_id="yolo", shots="true", black_max_pixel_threshold="0.1",
                     black_min_coverage_percentage="95")  # fmt: skip
    assert (chosen.shots, chosen.black_max_pixel_threshold) == (True, 0.1)
    assert chosen.result_options()["black_min_coverage_percentage"] == 95
    assert "shots" not in options(pipeline_id="yolo").result_options()
    assert options(pipeline_id="shots").result_options()["shots"] is True


@pytest.mark.parametrize(
    "size",
    ["500", "abc", "0", "10000", "416.5", "608.0", "0608", "+608", " 608", "608 ", "٦٠٨", "６０８",
     "6_08", "", "-416", "416,608", "nan"],
)  # fmt: skip
def test_a_detector_size_other_than_416_or_608_is_a_bad_request_that_says_what_to_fix(size):
    with pytest.raises(BadRequest) as error:
        options(detector_size=size)
    assert error.value.message.startswith("detector_size must be 416 or 608 (the detector's input")
    assert error.value.message.endswith(f"got {quoted(size)}")


@pytest.mark.parametrize("size, value", [("416", 416), ("608", 608)])
def test_the_two_detector_sizes_are_accepted(size, value):
    parsed = options(detector_size=size)
    assert parsed.detector_size == value and type(parsed.detector_size) is int
    assert options().detector_size == 416
