"""Open local HTML pages in a real headless Chromium (the system's, through Playwright's sync API) and report what
a reader's browser would: the DOM after load, console errors, failed resource loads; and take screenshots.

Reusable by any test of a static site (the HTML readout, offline Data Docs)::

    from browser import Browser, chromium_or_skip

    with Browser(chromium_or_skip()) as browser:
        page = browser.open_page(path, screenshot=Path("build/screens/index.png"))
        assert not page.problems(), page.problems()
        page.attribute("[data-srm]", "data-srm")

Playwright's own browser download does not work here, so the system Chromium is used (``executable_path``):
found on the PATH, else installed from the Debian packages when running as root (``apt-get install -y
chromium``, as CI does), else the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

#: executables tried in order
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The system Chromium on the PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def install_chromium() -> str | None:
    """Install Chromium from the Debian packages when running as root with apt-get (CI); the path, or None."""
    if os.name != "posix" or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        if subprocess.run(command, check=False, env=env, capture_output=True, text=True).returncode != 0:
            return None
    return find_chromium()


def chromium_or_skip() -> str:
    """The Chromium executable, installed if needed; skips the calling test when there is none."""
    import pytest

    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    path = find_chromium() or install_chromium()
    if path is None:
        pytest.skip("no Chromium: install it (apt-get install -y chromium) to run the browser tests")
    return path


@dataclass
class PageResult:
    """What loading one page gave: the DOM after load, console errors, failed or refused requests."""

    path: Path
    url: str
    title: str
    dom: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    _page: object = None  #: the live Playwright page, open until the Browser closes

    def problems(self) -> list[str]:
        return [f"console error: {text}" for text in self.console_errors] + [
            f"failed load: {text}" for text in self.failed_requests
        ]

    def attributes(self, selector: str, name: str) -> list[str | None]:
        """``name`` of every element matching ``selector``, in document order."""
        return [element.get_attribute(name) for element in self._page.query_selector_all(selector)]

    def attribute(self, selector: str, name: str) -> str | None:
        """``name`` of the first element matching ``selector`` (AssertionError when none does)."""
        element = self._page.query_selector(selector)
        assert element is not None, f"{self.path.name}: no element matches {selector}"
        return element.get_attribute(name)

    def text(self, selector: str) -> str:
        element = self._page.query_selector(selector)
        assert element is not None, f"{self.path.name}: no element matches {selector}"
        return element.inner_text()

    def close(self) -> None:
        """Close the page (the Browser closes every page it opened when its block ends)."""
        self._page.close()

    def screenshot(self, out: Path, full_page: bool = True) -> Path:
        """A PNG of the page (``out``'s folder is created)."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        self._page.screenshot(path=str(out), full_page=full_page)
        return out


class Browser:
    """A headless Chromium for the duration of a ``with`` block; ``open_page`` loads one local file per call."""

    def __init__(self, executable: str | None = None, width: int = 1200, height: int = 900, offline: bool = True):
        self.executable = executable or find_chromium()
        self.viewport = {"width": width, "height": height}
        self.offline = offline
        self._playwright = self._browser = self._context = None

    def __enter__(self) -> Self:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=self.executable, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        # offline: any attempt to reach the network fails the page (the site must open from disk alone)
        self._context = self._browser.new_context(viewport=self.viewport, offline=self.offline)
        return self

    def __exit__(self, *exc) -> None:
        for closing in (self._context, self._browser):
            if closing is not None:
                closing.close()
        if self._playwright is not None:
            self._playwright.stop()

    def open_page(self, path: Path, screenshot: Path | None = None) -> PageResult:
        path = Path(path).resolve()
        page = self._context.new_page()
        errors: list[str] = []
        failed: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
        page.on(
            "response",
            lambda response: (
                failed.append(f"{response.url} (HTTP {response.status})") if response.status >= 400 else None
            ),
        )
        response = page.goto(path.as_uri(), wait_until="load")
        if response is not None and not response.ok:
            failed.append(f"{path.as_uri()} ({response.status})")
        result = PageResult(
            path=path,
            url=page.url,
            title=page.title(),
            dom=page.content(),
            console_errors=errors,
            failed_requests=failed,
            _page=page,
        )
        if screenshot is not None:
            result.screenshot(screenshot)
        return result
