"""The library page: one self-contained HTML page (``library.html``) listing a tenant's jobs.

The page itself holds no job data: its script fetches ``GET /video/jobs`` (the list, paged and
filtered by status, with each job's thumbnail as a presigned URL), ``GET /video/search`` (the
search box) and, with auth required, ``POST /video/view/{id}/link`` (to open a hit in the viewer
at its time). With auth required a browser cannot send an API key, so ``POST
/video/library/link`` (a keyed caller) gives a link carrying a library token, which the page
sends as its Bearer token; only those read-only routes take it.

Its headers are the viewer's (``page.secure_headers``): only its own hashed script and style,
fetches to this API, images only from the storage's job prefix (the thumbnails), nosniff,
no-referrer, no-store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from chalicelib.adapters.storage import StorageService
from chalicelib.config import DEFAULT_LIST_LIMIT
from chalicelib.errors import BadRequest, quoted_list
from chalicelib.jobs.ids import PREFIX
from chalicelib.jobs.library import STATUSES
from chalicelib.jobs.tenancy import Caller
from chalicelib.viewer.page import ViewerPage, fill, secure_headers, template_of

if TYPE_CHECKING:
    from chalicelib.access.authenticator import Authenticator

PAGE = Path(__file__).with_name("library.html")
PAGE_PARAMS = ("token",)
MAX_PAGE_TOKEN_CHARS = 200  # a library token is at most 90 characters
PATH = "/video/library"


def image_source(storage: StorageService) -> str:
    """The CSP source of every thumbnail: the storage endpoint's job prefix, as a presigned
    URL of a key under it names it (a trailing ``/`` matches every path below)."""
    sample = urlsplit(storage.presigned_get_url(f"{PREFIX}/thumbnail.jpg", 60))
    if not sample.netloc:  # LocalStorage's file:// URL (tests): no host to name
        return f"{sample.scheme}:"
    folder = sample.path.rsplit("/", 1)[0] + "/"
    return f"{sample.scheme}://{sample.netloc}{folder.replace(';', '%3B').replace(',', '%2C')}"


def check_page_params(params: Mapping[str, str] | None) -> str | None:
    """The page's one parameter, ``token``; anything else is refused with what it accepts."""
    unknown = set(params or {}) - set(PAGE_PARAMS)
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s) {quoted_list(unknown)}: the library page takes only "
            "token (from POST /video/library/link, or `video-jobs library`)"
        )
    token = (params or {}).get("token")
    if token is not None and len(token) > MAX_PAGE_TOKEN_CHARS:  # whether auth is on or off
        raise BadRequest(
            f"token is {len(token)} characters, longer than any library link's token: open the "
            "link POST /video/library/link (or `video-jobs library`) gives, unchanged"
        )
    return token


class LibraryPages:
    """Builds the library page and its links."""

    def __init__(self, *, storage: StorageService):
        self.storage = storage

    def page(self, token: str | None) -> ViewerPage:
        """The page; ``token``: the library token its fetches carry (already checked)."""
        config: dict[str, Any] = {
            "jobs_url": "jobs",  # relative to .../video/library: a stage prefix is kept
            "search_url": "search",
            "view_url": "view/",
            "statuses": list(STATUSES),
            "page_size": DEFAULT_LIST_LIMIT,
            "token": token,
        }
        template = template_of(PAGE)
        headers = secure_headers(template, img_src=image_source(self.storage))
        return ViewerPage(fill(template, config), headers)

    def link(self, caller: Caller, auth: Authenticator) -> dict[str, Any]:
        """The page's path (relative to the API's root); with auth required it carries a
        library token for the caller's tenant, and says when that expires."""
        if not auth.required:
            return {"url": PATH, "expires_at": None}
        token, expires = auth.library_token(caller)
        when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        return {"url": f"{PATH}?token={quote(token)}", "expires_at": when.replace("+00:00", "Z")}
