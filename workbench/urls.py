"""The one place that builds links into the app.

Pages link with paths relative to the app (`trace?run=..&sample=..&step=..`); reports and exports
need absolute links and take the app's address from the `app_url` setting (WORKBENCH_APP_URL).
Every parameter is URL-encoded, so ids such as `x+y&z#1` survive the round trip. A list value
becomes a repeated parameter (`det=a&det=b`), the form Streamlit's query-parameter-bound widgets use.

View state lives in the URL: the list pages bind their filters, sort and page to the parameters in
LIST_PARAMS; a trace opened from a list carries them (`list_context`), so the trace page walks the same
filtered list (previous / next, j / k) and links back to it.
"""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from workbench.config import setting

PAGES = ("overview", "traces", "trace", "compare", "failures", "clusters", "sql", "run")


# Query parameters of the filtered sample list (Traces page widgets are bound to these names).
LIST_PARAMS = ("runs", "bench", "subset", "det", "sev", "answer", "q", "min", "max", "sort", "desc", "tag", "page")
# A trace link carries its list as `l_<name>` (bound parameter names cannot be set from another page's
# widgets' own page, so the list travels under names no widget is bound to).
CONTEXT_PREFIX = "l_"


def _value(v: object) -> object:
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def page_path(page: str, **params: object) -> str:
    """`page?k=v&...` relative to the app; None values and empty lists are left out, the rest encoded
    (lists as repeated parameters)."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}")
    query = urlencode([(k, _value(v)) for k, v in params.items() if v is not None and v != []], doseq=True)
    path = "" if page == "overview" else page   # the default page lives at the app's root
    return f"{path}?{query}" if query else (path or ".")


def trace_path(run_id: str, sample_id: str, step: int | None = None,
               context: dict[str, object] | None = None) -> str:
    """Link to the trace view of one sample, optionally at a step, optionally inside a filtered list
    (`context`: LIST_PARAMS values, see `list_context`)."""
    ctx = {CONTEXT_PREFIX + k: v for k, v in (context or {}).items() if k in LIST_PARAMS and k != "page"}
    return page_path("trace", run=run_id, sample=sample_id, step=None if step is None else int(step), **ctx)


def context_pairs(context: dict[str, list[str]]) -> list[tuple[str, str]]:
    """A list context as `l_<name>` query pairs (for st.switch_page / st.page_link to a trace)."""
    return [(CONTEXT_PREFIX + k, v) for k, vals in context.items() if k in LIST_PARAMS and k != "page" for v in vals]


def list_context(params: object, prefix: str = CONTEXT_PREFIX) -> dict[str, list[str]]:
    """The list context in a query-parameter mapping (e.g. st.query_params; repeated values kept): the
    `l_<name>` parameters of a trace link (prefix="": the plain LIST_PARAMS of a list page)."""
    get_all = getattr(params, "get_all", None)
    out: dict[str, list[str]] = {}
    for k in LIST_PARAMS:
        key = prefix + k
        vals = get_all(key) if get_all else ([params[key]] if key in params else [])  # type: ignore[index]
        vals = [v for v in (vals if isinstance(vals, list) else [vals]) if v not in (None, "")]
        if vals:
            out[k] = [str(v) for v in vals]
    return out


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


def quote_param(value: object) -> str:
    """One query-parameter value as it appears in the links built here."""
    return quote_plus(str(value))
