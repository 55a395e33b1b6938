"""Small Playwright helpers shared by the browser tests."""

from __future__ import annotations

IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def wait_idle(page, timeout: int = 60000) -> None:
    """Wait until Streamlit shows no "running" status widget."""
    page.wait_for_function(IDLE, timeout=timeout)


def pick_option(page, selectbox_text: str, option: str, attempts: int = 4) -> None:
    """Open the selectbox whose label contains `selectbox_text` and click `option`.

    A rerun that lands between the click that opens the list and the click on the option
    re-renders the widget and closes the list; reopen it then (a few times), instead of waiting
    30 s for an option that is no longer on the page."""
    for attempt in range(attempts):
        wait_idle(page)
        page.locator('[data-testid="stSelectbox"]').filter(has_text=selectbox_text).click()
        opt = page.get_by_role("option", name=option, exact=True)
        try:
            opt.wait_for(timeout=5000)
            opt.click(timeout=5000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
