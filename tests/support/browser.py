"""Headless Chromium helpers: screenshots under var/screenshots/ (for a person to look at after
`make test`), page sizes."""
from __future__ import annotations

from pathlib import Path

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE, DESKTOP = (420, 860), (1280, 900)


def shot(browser, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def loaded(browser, element) -> bool:
    """An image that really loaded (naturalWidth > 0)."""
    return bool(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", element))


def page_text(browser) -> str:
    """The page's text read in one script call: a wait that polls it across a navigation never
    holds an element the new page has replaced (StaleElementReference)."""
    return browser.execute_script("return document.body ? document.body.innerText : ''") or ""
