"""In-page navigation for the trace view, as one st.components.v2 component (JavaScript in the page,
no iframe, served by the app itself):

- j / k (and ← / → with Alt) walk the filtered list: the component sends "next" / "prev" and the page
  switches to that sample;
- a click on a step number inside the trace selects the step in place (a rerun, not a page load);
- after each render the selected step is scrolled into view (deep links land on their step).

The script contains no data: it reads only the step number from the `data-step` attribute of the
trace's own links (parsed as an integer) and the element id to scroll to from the component's data
(built by Python from an integer). Nothing from a trace is ever evaluated or inserted as HTML.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

JS = r"""
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  const doc = parentElement.ownerDocument || document;
  const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  const onKey = (e) => {
    if (e.ctrlKey || e.metaKey || typing(e.target)) return;
    const key = e.key.toLowerCase();
    if (key === "j" || (e.altKey && e.key === "ArrowRight")) { e.preventDefault(); setTriggerValue("nav", "next"); }
    if (key === "k" || (e.altKey && e.key === "ArrowLeft")) { e.preventDefault(); setTriggerValue("nav", "prev"); }
  };
  const onClick = (e) => {
    const a = e.target.closest ? e.target.closest("a[data-step]") : null;
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    const step = parseInt(a.getAttribute("data-step"), 10);
    if (!Number.isInteger(step)) return;
    e.preventDefault();
    window.__wbSkipScroll = "step-" + step;   // the clicked step is in view already: no jump after the rerun
    setTriggerValue("step", step);
  };
  doc.addEventListener("keydown", onKey);
  doc.addEventListener("click", onClick, true);
  let tries = 0, timer = null;
  const target = data && typeof data.scroll === "string" && /^step-[0-9]+$/.test(data.scroll) ? data.scroll : null;
  const token = data ? String(data.token) : "";
  const scroll = () => {
    if (window.__wbSkipScroll === target) { window.__wbScrolled = token; window.__wbSkipScroll = null; return; }
    const el = doc.getElementById(target);
    if (el) {
      if (window.__wbScrolled !== token) { el.scrollIntoView({ block: "center" }); window.__wbScrolled = token; }
      return;
    }
    if (++tries < 100) timer = setTimeout(scroll, 100);
  };
  if (target) scroll();
  return () => {
    doc.removeEventListener("keydown", onKey);
    doc.removeEventListener("click", onClick, true);
    if (timer) clearTimeout(timer);
  };
}
"""

_component = st.components.v2.component("workbench_trace_nav", js=JS)


def trace_nav(selected_step: int | None, token: str, key: str = "trace_nav") -> Any:
    """Mount the navigation component; returns its result (`.nav`: "next"/"prev", `.step`: int) when
    the user pressed a key or clicked a step number in this rerun. `token` changes when the page should
    scroll again (a new sample or a new selected step)."""
    data: dict[str, Any] = {"token": token}
    if selected_step is not None:
        data["scroll"] = f"step-{int(selected_step)}"
    return _component(key=key, data=data, height=0, on_nav_change=lambda: None, on_step_change=lambda: None)


OPEN_JS = r"""
export default function(component) {
  const { data } = component;
  // data.url is built by workbench.urls (a relative link to a page of the app); anything else is ignored
  if (!data || typeof data.url !== "string"
      || !/^(trace|traces|failures|compare|clusters)\?[^\s<>"']*$/.test(data.url)) return;
  if (window.__wbOpened === data.token) return;
  window.__wbOpened = data.token;
  window.location.assign(new URL(data.url, window.location.href).toString());
}
"""

_open_component = st.components.v2.component("workbench_open_link", js=OPEN_JS)


def open_link(url: str, token: str, key: str = "open_link") -> None:
    """Open an app link as a normal navigation (a new history entry, so Back returns to exactly this
    page and URL). Used where a table row is selected: st.switch_page with query parameters leaves an
    extra history entry that Back would land on."""
    _open_component(key=key, data={"url": url, "token": token}, height=0)
