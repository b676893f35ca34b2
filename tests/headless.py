"""Open a page in headless Chromium with the network off and report what the browser saw.

Chromium is driven over its DevTools protocol on a pipe (--remote-debugging-pipe: commands on the
child's fd 3, replies on fd 4, each a JSON message ending in NUL), so no client library is needed.
Every address outside the disk goes to a dead proxy and every host name fails to resolve.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
OFFLINE_FLAGS = ("--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageVisit:
    requested: list[str] = field(default_factory=list)               # every URL the page asked for
    failed: list[tuple[str, str]] = field(default_factory=list)      # (url, Chromium's error text)
    exceptions: list[str] = field(default_factory=list)              # uncaught script errors
    console_errors: list[str] = field(default_factory=list)
    value: Any = None                                                # what `evaluate` returned


class Browser:
    """One headless Chromium with a single page, talked to over the DevTools pipe."""

    def __init__(self, chromium: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="tongbi-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_pipes() -> None:  # in the child: the protocol's fds 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        # a file, not a pipe: nobody reads Chromium's chatter while the page loads
        self._stderr = open(Path(self._profile.name) / "stderr.log", "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1400,900", "--remote-debugging-pipe",
             f"--user-data-dir={self._profile.name}", *OFFLINE_FLAGS, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            preexec_fn=wire_pipes, pass_fds=(3, 4),  # kept open after preexec_fn: close_fds runs last
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        for domain in ("Network", "Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=self.session)

    # --------------------------------------------------------------------------- protocol

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_child, json.dumps(message).encode() + b"\0")

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                return None
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited: {self._stderr_tail()}")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: str | None = None, timeout: float = 30.0, **params: Any) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._receive(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)
        raise TimeoutError(f"no reply to {method} in {timeout} s")

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            event = self._receive(left)
            if event is None:
                return
            self._events.append(event)

    def _stderr_tail(self) -> str:
        self._stderr.flush()
        return (Path(self._profile.name) / "stderr.log").read_bytes().decode(errors="replace")[-2000:]

    # ------------------------------------------------------------------------------ pages

    def visit(self, url: str, expression: str | None = None, settle_s: float = 2.0,
              timeout_s: float = 60.0) -> PageVisit:
        """Load url, wait for its load event and for the network to settle, then evaluate expression."""
        self._events.clear()
        self.call("Page.navigate", session=self.session, url=url)
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading in {timeout_s} s")
            self._drain(0.5)
        self._drain(settle_s)  # fonts and late requests
        visit = PageVisit()
        if expression is not None:
            result = self.call("Runtime.evaluate", session=self.session, expression=expression,
                               returnByValue=True, awaitPromise=True)
            if "exceptionDetails" in result:
                raise RuntimeError(f"evaluating on {url}: {result['exceptionDetails']}")
            visit.value = result["result"].get("value")
            self._drain(0.2)
        urls: dict[str, str] = {}
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
                visit.requested.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                visit.failed.append((urls.get(params["requestId"], params["requestId"]), params["errorText"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                visit.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")
        return visit

    def screenshot(self, path: Path) -> None:
        import base64  # noqa: PLC0415

        data = self.call("Page.captureScreenshot", session=self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._send({"id": 0, "method": "Browser.close"})
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            self._stderr.close()
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
