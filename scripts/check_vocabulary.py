"""Vocabulary check: functional code must not use the terms governance/vocabulary.yaml forbids.

    python -m scripts.check_vocabulary [--config PATH] [--root DIR] [PATH ...]

video-jobs is an asynchronous job queue; words such as ``websocket`` or ``gpu_worker`` describe
another product and, once in the code, pull the design towards it. This check keeps them out.

Prints one ``file:line: term: text`` line per violation and exits 1, or exits 0 when clean
(2 for a broken configuration or a path argument that does not exist).

How lines are read (the YAML's comments say the same, for whoever edits the lists):

* Every line of every selected file is scanned, whatever the language: code, comments,
  docstrings and strings alike, because what the product says (log lines, error messages,
  docstrings) is in scope as much as what it does.
* A line is cut into words at every character that is not an ASCII letter or digit and at
  camelCase humps (``GpuWorkerPool`` -> Gpu, Worker, Pool); case is ignored.
* A term matches a run of consecutive words whose letters, joined, spell it; the words may touch
  (camelCase) or be separated by ``_``, ``-`` or whitespace. The match starts at the start of a
  word and its last word may run on, so ``websockets``, ``gpu_worker_pool`` and ``StreamingBody``
  count, while "video stream", ``StreamHandler`` and "redistributed" do not.
* A forbidden match that lies entirely inside an allowed match is permitted: allowed terms
  whitelist longer phrases that contain a forbidden one, and never hide a longer forbidden term
  (``worker`` is allowed, ``gpu_worker`` still is not). A term in both lists is a config error.

Without path arguments the configured ``paths`` (relative to ``--root``, the repository by
default) are scanned, keeping files whose names match ``include``; a configured path that does
not exist is skipped. Files named explicitly on the command line are scanned whatever their name.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "governance" / "vocabulary.yaml"
# ASCII words: an upper-case run before a capitalised word (GPU in GPUWorker), a capitalised or
# lower-case word, an upper-case run, or digits. Everything else separates words.
WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# What may stand between two words of one term: nothing (camelCase), underscores, hyphens, spaces.
JOINER = re.compile(r"[\s_-]*")


class ConfigError(Exception):
    """The vocabulary file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Word:
    text: str  # lower-cased
    start: int
    end: int


@dataclass(frozen=True)
class Vocabulary:
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...]
    paths: tuple[str, ...]
    include: tuple[str, ...]
    exclude_dirs: tuple[str, ...]


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    term: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.term}: {self.text.strip()}"


def split_words(text: str) -> list[Word]:
    return [Word(m.group().lower(), m.start(), m.end()) for m in WORD.finditer(text)]


def spelling(term: str) -> str:
    """A term's letters as matching sees them: ``gpu_worker``, ``GpuWorker`` -> ``gpuworker``."""
    return "".join(word.text for word in split_words(term))


def _match_at(term: str, words: list[Word], first: int, line: str) -> tuple[int, int] | None:
    """The span spelling ``term`` from ``words[first]`` on, or None if it does not start there."""
    remaining = term
    for index in range(first, len(words)):
        word = words[index]
        if index > first and not JOINER.fullmatch(line, words[index - 1].end, word.start):
            return None
        if word.text.startswith(remaining):
            return words[first].start, word.start + len(remaining)
        if not remaining.startswith(word.text):
            return None
        remaining = remaining[len(word.text) :]
    return None


def find_term(term: str, line: str, words: list[Word] | None = None) -> list[tuple[int, int]]:
    """Spans of ``line`` where ``term`` matches (see the module docstring for the rules)."""
    words = split_words(line) if words is None else words
    target = spelling(term)
    spans = (_match_at(target, words, first, line) for first in range(len(words)))
    return [span for span in spans if span is not None]


def line_violations(line: str, vocabulary: Vocabulary) -> list[str]:
    """The forbidden terms ``line`` uses outside every allowed phrase, each named once."""
    words = split_words(line)
    allowed = [span for term in vocabulary.allowed for span in find_term(term, line, words)]
    return [
        term
        for term in vocabulary.forbidden
        if any(
            not any(a_start <= start and end <= a_end for a_start, a_end in allowed)
            for start, end in find_term(term, line, words)
        )
    ]


def scan_text(text: str, vocabulary: Vocabulary, display: str) -> list[Violation]:
    return [
        Violation(display, number, term, line)
        for number, line in enumerate(text.splitlines(), start=1)
        for term in line_violations(line, vocabulary)
    ]


def _string_list(raw: dict, key: str, *, required: bool) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}' must be a non-empty list of strings")
    return tuple(value)


def load_vocabulary(path: Path) -> Vocabulary:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping with 'forbidden', 'paths', 'include', ...")
    vocabulary = Vocabulary(
        forbidden=_string_list(raw, "forbidden", required=True),
        allowed=_string_list(raw, "allowed", required=False),
        paths=_string_list(raw, "paths", required=True),
        include=_string_list(raw, "include", required=True),
        exclude_dirs=_string_list(raw, "exclude_dirs", required=False),
    )
    unspellable = [t for t in vocabulary.forbidden + vocabulary.allowed if not spelling(t)]
    if unspellable:
        raise ConfigError(f"{path}: terms without letters or digits: {unspellable}")
    both = {spelling(t) for t in vocabulary.forbidden} & {spelling(t) for t in vocabulary.allowed}
    if both:
        raise ConfigError(
            f"{path}: listed as both forbidden and allowed: {', '.join(sorted(both))}"
        )
    return vocabulary


def _selected(path: Path, vocabulary: Vocabulary) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in vocabulary.include)


def iter_files(target: Path, vocabulary: Vocabulary) -> Iterator[Path]:
    """Files under ``target`` whose names are selected, in a stable order."""
    for path in sorted(target.rglob("*")):
        folders = path.relative_to(target).parts[:-1]
        excluded = any(folder in vocabulary.exclude_dirs for folder in folders)
        if path.is_file() and _selected(path, vocabulary) and not excluded:
            yield path


def _display(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def scan(targets: Sequence[Path], vocabulary: Vocabulary, root: Path) -> list[Violation]:
    """Violations in ``targets``: files are scanned as they are, folders for selected files."""
    violations = []
    for target in targets:
        files = iter_files(target, vocabulary) if target.is_dir() else [target]
        for path in files:
            text = path.read_text(encoding="utf-8", errors="replace")
            violations += scan_text(text, vocabulary, _display(path, root))
    return violations


def _targets(arguments: list[Path], vocabulary: Vocabulary, root: Path) -> list[Path]:
    if not arguments:
        return [root / p for p in vocabulary.paths if (root / p).exists()]
    missing = [str(p) for p in arguments if not p.exists()]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")
    return [p.resolve() for p in arguments]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--root", type=Path, default=ROOT, help="what configured paths are in")
    parser.add_argument("paths", nargs="*", type=Path, help="scan these instead of the config's")
    args = parser.parse_args(argv)
    root, config = args.root.resolve(), args.config.resolve()
    try:
        vocabulary = load_vocabulary(config)
        violations = scan(_targets(args.paths, vocabulary, root), vocabulary, root)
    except ConfigError as error:
        print(f"vocabulary: {error}", file=sys.stderr)
        return 2
    for violation in violations:
        print(violation)
    if violations:
        print(f"vocabulary: {len(violations)} forbidden term(s); see {_display(config, root)}")
        return 1
    print("vocabulary: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
