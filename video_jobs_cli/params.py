"""Option and argument types that refuse bad values up front, as usage errors (exit 2)."""

from __future__ import annotations

import math
from typing import Any

import click

from video_jobs_cli.api import check_base_url


class ApiUrl(click.ParamType):
    name = "url"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return check_base_url(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class Text(click.ParamType):
    """A non-empty string that can go into a URL (not bytes undecodable as UTF-8)."""

    name = "text"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not value:
            self.fail("must not be empty", param, ctx)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail(f"{value!r} is not valid UTF-8 text", param, ctx)
        return value


class Within(click.ParamType):
    """A finite number from ``low`` to ``high``, both included (click's float and FloatRange
    take nan and inf); ``low`` itself left out when ``above``."""

    name = "number"

    def __init__(self, low: float, high: float = math.inf, *, above: bool = False):
        self.low, self.high, self.above = low, high, above

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        low_ok = number > self.low if self.above else number >= self.low
        if not (math.isfinite(number) and low_ok and number <= self.high):
            self.fail(f"{value!r} is not {self._span()}", param, ctx)
        return number

    def _span(self) -> str:
        if self.above and self.high == math.inf:
            return f"a finite number above {self.low:g}"
        return f"a number from {self.low:g} to {self.high:g}"


TEXT, POSITIVE = Text(), Within(0, above=True)  # POSITIVE: a finite number above 0
