"""The one place that builds links into the app.

Pages link with paths relative to the app (`trace?run=..&sample=..&step=..`); reports and exports
need absolute links and take the app's address from the `app_url` setting (WORKBENCH_APP_URL).
Every parameter is URL-encoded, so ids such as `x+y&z#1` survive the round trip.
"""

from __future__ import annotations

from urllib.parse import urlencode

from workbench.config import setting

PAGES = ("overview", "traces", "trace", "compare", "failures", "clusters", "sql", "run")


def page_path(page: str, **params: object) -> str:
    """`page?k=v&...` relative to the app; None values are left out, the rest encoded."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")
    query = urlencode({k: ("" if v is None else str(v)) for k, v in params.items() if v is not None})
    path = "" if page == "overview" else page   # the default page lives at the app's root
    return f"{path}?{query}" if query else (path or ".")


def trace_path(run_id: str, sample_id: str, step: int | None = None) -> str:
    """Link to the trace view of one sample, optionally at a step."""
    return page_path("trace", run=run_id, sample=sample_id, step=None if step is None else int(step))


def compare_path(run_a: str, sample_a: str, run_b: str | None = None, sample_b: str | None = None) -> str:
    return page_path("compare", run=run_a, sample=sample_a, run2=run_b, sample2=sample_b)


def app_base_url() -> str | None:
    """The configured address of the app (no trailing slash), or None when it is not set."""
    base = setting("app_url").strip().rstrip("/")
    return base or None


def absolute(path: str, base: str | None = None) -> str | None:
    """An absolute link for a relative app path, or None when the app's address is unknown."""
    base = (base or app_base_url() or "").rstrip("/")
    if not base:
        return None
    return f"{base}/{path.lstrip('./')}" if path not in (".", "") else base + "/"
