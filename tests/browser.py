"""Debian's headless Chromium, driven by Playwright: how the tests and the screenshot script
start it (Playwright cannot download its own browsers here)."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(driver: Any, profile: str, width: int = 1280, height: int = 900) -> Any:
    """A browser context on a fresh user-data-dir ``profile`` (``driver``: sync_playwright())."""
    return driver.chromium.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": width, "height": height},
    )
