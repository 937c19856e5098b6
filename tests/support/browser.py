"""Headless Chromium for the viewer's tests: finding it, one-shot runs (``--dump-dom``,
``--screenshot``), a page driven over the DevTools protocol (real clicks), and the README's
screenshots.

One-shot runs use Chromium's virtual clock (``--virtual-time-budget``): it waits for the page's
load event but not for media loads that start after it. ``DevToolsPage`` runs on the real clock
and speaks the DevTools protocol over ``--remote-debugging-pipe`` (null-terminated JSON on file
descriptors 3 and 4), so it needs no WebSocket library.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageChops

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1280, 900)
CSP_VIOLATION = "Content Security Policy"  # in each violation's console message
DOC_COLOURS = 32  # the README's screenshots: palette PNGs (the video frame is a photo)
DOC_MARGIN = 16  # px kept right of and below the page's content, as the page has left and above
COMMON_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
                "--enable-logging=stderr", "--v=0")  # fmt: skip


def find_browser() -> str:
    """$VIDEO_JOBS_CHROMIUM or a Chromium on the PATH; skips (fails under CI) without one."""
    found = os.environ.get("VIDEO_JOBS_CHROMIUM") or next(
        (path for path in map(shutil.which, BROWSERS) if path), None
    )
    if found:
        return found
    message = "Chromium is not installed: apt-get install -y chromium (make test does it as root)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def headless(browser: str, tmp_path: Path, url: str, *args: str) -> tuple[str, str]:
    """Chromium's stdout, and the page's console messages (its log lines on stderr)."""
    done = subprocess.run(
        [browser, *COMMON_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", *args, url],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, "\n".join(line for line in done.stderr.splitlines() if ":CONSOLE" in line)


def save_for_docs(image: Image.Image, path: str) -> None:
    """The page's content without the empty window around it, in ``DOC_COLOURS`` colours
    (k-means in OpenCV, seeded: the same screenshot gives the same file)."""
    window = Image.new("RGB", image.size, image.getpixel((image.width - 1, image.height - 1)))
    _, _, right, bottom = ImageChops.difference(image, window).getbbox()
    right, bottom = min(image.width, right + DOC_MARGIN), min(image.height, bottom + DOC_MARGIN)
    page = np.asarray(image.crop((0, 0, right, bottom)))
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, labels, centres = cv2.kmeans(page.reshape(-1, 3).astype(np.float32), DOC_COLOURS, None,
                                    criteria, 1, cv2.KMEANS_PP_CENTERS)  # fmt: skip
    small = Image.fromarray(labels.reshape(page.shape[:2]).astype(np.uint8), "P")
    small.putpalette(centres.round().clip(0, 255).astype(np.uint8).flatten().tolist())
    small.save(path, optimize=True)


def _high(fd: int) -> int:
    """``fd`` moved to 10 or above (closed on exec), so that moving it to 3 or 4 in the child
    can never overwrite the other pipe's end."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class DevToolsPage:
    """One page of a headless Chromium driven over the DevTools protocol: ``evaluate`` runs
    JavaScript, ``click`` sends real mouse events, ``screenshot`` captures the window. Log and
    console messages are kept in ``messages``. Use as a context manager."""

    def __init__(self, browser: str, profile: Path):
        to_browser, self._commands = (_high(fd) for fd in os.pipe())
        self._answers, from_browser = (_high(fd) for fd in os.pipe())
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}', browser,
             *COMMON_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(to_browser, from_browser), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self._inbox: queue.Queue[dict] = queue.Queue()
        self._next_id = 0
        self._fakes: dict[str, dict] = {}  # URL part -> the JSON answered in place of the server
        self._sent_aside = 0
        self.messages: list[str] = []
        self.faked: list[str] = []  # the URLs answered by a fake
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]  # fmt: skip
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")

    def _read(self) -> None:
        pending = b""
        while chunk := os.read(self._answers, 1 << 16):
            pending += chunk
            *messages, pending = pending.split(b"\0")
            for message in messages:
                self._inbox.put(json.loads(message))
        self._inbox.put({"closed": True})

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._inbox.get(timeout=60)
            assert "closed" not in answer, f"Chromium closed the pipe during {method}"
            if answer.get("id") == self._next_id:
                assert "error" not in answer, (method, answer["error"])
                return answer["result"]
            self._note(answer)

    def _note(self, event: dict) -> None:
        params = event.get("params", {})
        if event.get("method") == "Fetch.requestPaused":
            self._answer_paused(params)
        if event.get("method") == "Log.entryAdded":
            self.messages.append(params["entry"]["text"])
        elif event.get("method") == "Runtime.consoleAPICalled":
            self.messages.append(" ".join(str(a.get("value", "")) for a in params["args"]))
        elif event.get("method") == "Runtime.exceptionThrown":
            self.messages.append(json.dumps(params["exceptionDetails"]))

    def call(self, method: str, params: dict | None = None) -> Any:
        return self._call(method, params, self._session)

    def fake_json(self, url_part: str, answer: dict) -> None:
        """Answer every request whose URL holds ``url_part`` with ``answer`` (200, JSON) in
        place of the server: a route another branch builds, stood in for at the page's level."""
        self._fakes[url_part] = answer
        patterns = [{"urlPattern": f"*{part}*", "requestStage": "Request"} for part in self._fakes]
        self.call("Fetch.enable", {"patterns": patterns})

    def _answer_paused(self, params: dict) -> None:
        """Fulfil a paused request (sent aside, with ids of its own: no ``_call`` waits on it)."""
        url = params["request"]["url"]
        answer = next((a for part, a in self._fakes.items() if part in url), None)
        self._sent_aside += 1
        message: dict[str, Any] = {"id": 10**9 + self._sent_aside, "sessionId": self._session,
                                   "params": {"requestId": params["requestId"]}}  # fmt: skip
        if answer is None:
            message["method"] = "Fetch.continueRequest"
        else:
            self.faked.append(url)
            body = base64.b64encode(json.dumps(answer).encode()).decode()
            message["method"] = "Fetch.fulfillRequest"
            message["params"] |= {"responseCode": 200, "body": body, "responseHeaders": [
                {"name": "Content-Type", "value": "application/json"}]}  # fmt: skip
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-able values only; a promise's once it
        settles)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})  # fmt: skip
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout_s: float = 60) -> Any:
        """Polls until ``expression`` is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while not (value := self.evaluate(expression)):
            assert time.monotonic() < deadline, f"{what}: still not so after {timeout_s:g} s"
            time.sleep(0.1)
        return value

    def click(self, selector: str) -> None:
        """A left click in the middle of the first element ``selector`` matches."""
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, "
                            "r.y + r.height / 2]; })()")  # fmt: skip
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})  # fmt: skip

    def screenshot(self) -> Image.Image:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")

    def close(self) -> None:
        os.close(self._commands)  # Chromium exits when its pipe closes
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=30)  # it reads to the end of the pipe, then stops
        os.close(self._answers)

    def __enter__(self) -> DevToolsPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
