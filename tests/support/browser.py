"""Headless Chromium for tests: Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser build),
a page object that saves a screenshot per step, and checks that every control has a label and that a flow works by
keyboard alone."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Known to work on this kind of machine: without the background-networking flags Chromium keeps trying (and failing)
# to reach Google's hosts through a closed network. Playwright adds a fresh --user-data-dir of its own per launch.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Form controls and buttons with no accessible name: no <label>, no aria-label(ledby), no text.
_UNLABELLED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden') continue;
    const isButton = el.tagName === 'BUTTON' || ['submit', 'button', 'reset'].includes(el.type);
    const labelled = [...(el.labels || [])].map(l => l.textContent.trim()).join(' ');
    const byId = (el.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean)
      .map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
    const name = (isButton ? (el.textContent || el.value || '') : labelled).trim()
      || (el.getAttribute('aria-label') || '').trim() || byId;
    if (!name) found.push(el.outerHTML.slice(0, 160));
  }
  for (const img of document.querySelectorAll('img')) {
    if (!img.hasAttribute('alt')) found.push(img.outerHTML.slice(0, 160));
  }
  if (!document.documentElement.lang) found.push('<html> without lang');
  return found;
}"""


def unlabelled_controls(page: Page) -> list[str]:
    found: list[str] = page.evaluate(_UNLABELLED)
    return found


def assert_every_control_labelled(page: Page) -> None:
    missing = unlabelled_controls(page)
    assert not missing, f"controls without a label on {page.url}: {missing}"


def tab_to(page: Page, selector: str, max_presses: int = 40) -> None:
    """Press Tab until the element matching `selector` has the focus (proof it is reachable by keyboard)."""
    for _ in range(max_presses):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key on {page.url}")


def type_into(page: Page, selector: str, text: str) -> None:
    """Reach a field by keyboard and type into it."""
    tab_to(page, selector)
    page.keyboard.type(text)


def press_on(page: Page, selector: str, key: str = "Enter") -> None:
    """Reach a control by keyboard and press a key on it (Enter for buttons and links, Space for check boxes)."""
    tab_to(page, selector)
    page.keyboard.press(key)


@dataclass
class BrowserPage:
    """A tab in headless Chromium plus the test's screenshot folder: call `step` after each thing the user sees."""

    page: Page
    folder: Path
    check_labels: bool = True
    taken: list[Path] = field(default_factory=list)

    def step(self, name: str) -> Path:
        """Screenshot `<nn>-<name>.png`; with `check_labels`, also insists every control on the page has a label."""
        path = self.folder / f"{len(self.taken) + 1:02d}-{_slug(name)}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if self.check_labels:
            assert_every_control_labelled(self.page)
        return path


def screenshot_folder(test_name: str) -> Path:
    folder = SCREENSHOTS / _slug(test_name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120] or "step"
