"""The command's one error type, and how every error is shown: one line a person can act on.

``CliError`` (exit 1) is everything the commands raise on purpose; ``ApiError`` is the part that
comes from the API or the network. ``one_line_errors`` (around all of ``commands.Group``) turns
it, and click's usage errors (exit 2), into one ``Error: ...`` line on stderr, printed by
click's own handler; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

MAX_MESSAGE_CHARS = 500  # an API's message is shown, but never a page of it


class CliError(Exception):
    """What went wrong, in one line a person can act on."""


class ApiError(CliError):
    """The API or the network to it failed: unreachable, cut off, an error or unusable answer."""


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines and tabs become spaces, other control
    characters (a terminal escape sent by a server) are shown escaped, and it is cut short."""
    flat = " ".join(text.split())
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in flat)
    if len(shown) > MAX_MESSAGE_CHARS:
        shown = shown[: MAX_MESSAGE_CHARS - 3] + "..."
    return shown


class OneLineError(click.ClickException):
    def __init__(self, message: str):
        super().__init__(one_line(message))


class OneLineUsageError(OneLineError):
    exit_code = 2


# Shown as they are: ours, and (click >= 8.2) the help that `video-jobs` alone prints.
_AS_THEY_ARE: tuple[type[Exception], ...] = (OneLineError,) + tuple(
    getattr(click.exceptions, name)
    for name in ["NoArgsIsHelpError"]
    if hasattr(click.exceptions, name)
)


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except _AS_THEY_ARE:
        raise
    except click.UsageError as error:  # click would print the usage and a hint: 4 lines
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        raise OneLineUsageError(error.format_message().rstrip(".") + hint) from None
    except click.ClickException as error:  # e.g. an --output file that cannot be opened
        raise OneLineError(error.format_message()) from None
    except CliError as error:
        raise OneLineError(str(error)) from None
