"""Registry check: every pipeline in ``chalicelib.analysis.registry.PIPELINES`` resolves and fits.

    python -m scripts.check_pipelines

The registry holds lazy import paths so the API never imports ML code; the price is that a typo
or a drifted signature only shows when the analyzer first runs that pipeline, in production.
This check resolves each entry ahead of time and checks the ``Pipeline`` protocol the worker
relies on (``chalicelib/analysis/registry.py``): a class whose ``pipeline_id`` equals its
registry key, built as ``cls(settings)``, with ``analyze(file_path, *, sample_fps, emit, options,
state, stop, timings)`` and ``fields(options, outcome)``. Signatures are checked with ``inspect``
and nothing is constructed, because constructing a pipeline loads its models.

Prints one ``ok`` line per good pipeline and one ``FAIL`` line per problem; exits 1 on any.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping

from chalicelib.analysis.registry import PIPELINES

ANALYZE_KEYWORDS = ("sample_fps", "emit", "options", "state", "stop", "timings")
REQUIRED_ANALYZE = f"analyze(self, file_path, *, {', '.join(ANALYZE_KEYWORDS)})"
REQUIRED_FIELDS = "fields(self, options, outcome)"


def _resolve(target: str) -> tuple[object | None, list[str]]:
    """The object ``target`` ("module:attribute") names, or None with the reason."""
    module_name, colon, attribute = target.partition(":")
    if not colon or not module_name or not attribute:
        return None, [f"import path {target!r} is not of the form 'module:attribute'"]
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # whatever the import raises is the finding to report
        return None, [f"module {module_name!r} is not importable: {type(error).__name__}: {error}"]
    if not hasattr(module, attribute):
        return None, [f"module {module_name!r} has no attribute {attribute!r}"]
    return getattr(module, attribute), []


def _signature(function: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def _id_problems(cls: type, pipeline_id: str) -> list[str]:
    declared = getattr(cls, "pipeline_id", None)
    if declared is None:
        return ["has no pipeline_id class attribute"]
    if declared != pipeline_id:
        return [f"its pipeline_id is {declared!r}, but it is registered as {pipeline_id!r}"]
    return []


def _constructor_problems(cls: type) -> list[str]:
    signature = _signature(cls)
    if signature is None:
        return [f"cannot be built as {cls.__name__}(settings): its signature is unreadable"]
    try:
        signature.bind(object())
    except TypeError as error:
        return [f"cannot be built as {cls.__name__}(settings): __init__{signature} ({error})"]
    return []


def _analyze_problems(cls: type) -> list[str]:
    analyze = getattr(cls, "analyze", None)
    if not callable(analyze):
        return [f"has no {REQUIRED_ANALYZE} method"]
    signature = _signature(analyze)
    wrong = f"analyze{signature} does not fit {REQUIRED_ANALYZE}"
    if signature is None:
        return [wrong]
    named = {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD}
    for keyword in ANALYZE_KEYWORDS:
        parameter = signature.parameters.get(keyword)
        if parameter is None or parameter.kind not in named:
            return [f"{wrong}: it takes no keyword argument {keyword}"]
    try:
        signature.bind(object(), "video.mp4", **dict.fromkeys(ANALYZE_KEYWORDS))
    except TypeError as error:
        return [f"{wrong}: {error}"]
    return []


def _fields_problems(cls: type) -> list[str]:
    fields = getattr(cls, "fields", None)
    signature = _signature(fields) if callable(fields) else None
    try:
        if signature is not None:
            signature.bind(object(), None, None)
            return []
    except TypeError:
        pass
    return [f"has no {REQUIRED_FIELDS} method"]


def check_entry(pipeline_id: str, target: str) -> list[str]:
    """What is wrong with one registry entry; empty when it is usable."""
    implementation, problems = _resolve(target)
    if problems:
        return problems
    if not inspect.isclass(implementation):
        return [f"{target} is a {type(implementation).__name__}, not a class"]
    return (
        _id_problems(implementation, pipeline_id)
        + _constructor_problems(implementation)
        + _analyze_problems(implementation)
        + _fields_problems(implementation)
    )


def check_registry(registry: Mapping[str, str]) -> dict[str, list[str]]:
    """Problems per pipeline id (an empty list for a good entry), in registry order."""
    return {
        pipeline_id: check_entry(pipeline_id, target) for pipeline_id, target in registry.items()
    }


def report(registry: Mapping[str, str]) -> int:
    """Print one line per pipeline (or per problem) and return the exit status."""
    results = check_registry(registry)
    for pipeline_id, problems in results.items():
        if not problems:
            print(f"pipelines: ok {pipeline_id} -> {registry[pipeline_id]}")
        for problem in problems:
            print(f"pipelines: FAIL {pipeline_id} -> {registry[pipeline_id]}: {problem}")
    if not results:
        print("pipelines: FAIL the registry is empty")
        return 1
    return 1 if any(results.values()) else 0


def main() -> int:
    return report(PIPELINES)


if __name__ == "__main__":
    sys.exit(main())
