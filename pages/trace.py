"""Trace view: one sample, step by step. Deep link: ?run=<run_id>&sample=<sample_id>&step=<n>, plus the
list it was opened from (urls.LIST_PARAMS) so previous / next and j / k walk that filtered list."""

from __future__ import annotations

import streamlit as st

from workbench import urls
from workbench.store import queries as q
from workbench.ui import nav, probe_panel
from workbench.ui import trace_view as tv
from workbench.ui.common import require_runs, run_label, shared_id_prefixes, user_errors
from workbench.ui.data import cached_df
from workbench.ui.safe import md_text
from workbench.ui.state import describe, filter_from_context
from workbench.ui.tables import display_id


def _pairs(run_id: str, sample_id: str, context: dict, step: int | None = None) -> list[tuple[str, str]]:
    """Query parameters of a trace inside its list (for page links and switch_page)."""
    out = [("run", run_id), ("sample", sample_id)] + ([("step", str(step))] if step is not None else [])
    return out + urls.context_pairs(context)


with user_errors():
    runs = require_runs()
    params = st.query_params
    run_ids = runs["run_id"].tolist()
    run_id = params.get("run") or st.session_state.get("trace_run") or run_ids[0]
    if run_id not in set(run_ids):
        st.error("No run " + md_text(repr(run_id)) + " in this store.")
        st.stop()
    sample_id = params.get("sample")
    if not sample_id:
        ids = cached_df(q.SAMPLE_IDS, [run_id, 1])
        if ids.empty:
            st.info("This run has no samples.")
            st.stop()
        sample_id = str(ids["sample_id"].iloc[0])
    st.session_state["trace_run"] = run_id
    sample, steps, flags, images = tv.load(run_id, sample_id)
    if sample is None:
        st.error("No sample " + md_text(repr(sample_id)) + " in run " + md_text(repr(run_id)) + ".")
        st.stop()
    step_param = params.get("step")
    selected = int(step_param) if step_param and step_param.isdigit() else None
    context = urls.list_context(params)
    flt = filter_from_context(context, run_ids, [run_id])

    # keys (j/k), step clicks without a page load, scrolling to the selected step
    event = nav.trace_nav(selected, f"{run_id}\x1f{sample_id}\x1f{selected}")
    sql, qparams = q.list_neighbours(flt, run_id, sample_id)
    where = cached_df(sql, qparams)
    pos = where.iloc[0] if not where.empty else None
    if event is not None and getattr(event, "nav", None) in ("next", "prev") and pos is not None:
        r, s = (pos["next_run"], pos["next_sample"]) if event.nav == "next" else (pos["prev_run"], pos["prev_sample"])
        if isinstance(s, str):
            st.switch_page("pages/trace.py", query_params=_pairs(r, s, context))
    clicked = getattr(event, "step", None) if event is not None else None
    if isinstance(clicked, int) and clicked != selected and clicked in set(steps["step_index"].astype(int)):
        selected = clicked
        st.query_params["step"] = str(clicked)   # the URL follows (a history entry: Back goes to the last step)

    st.title("Trace " + md_text(display_id(sample_id, shared_id_prefixes([run_id]))))
    st.caption("Sample " + md_text(sample_id) + " · run " + md_text(run_label(runs)(run_id))
               + (" · synthetic demo data, not model output" if sample["synthetic"] else ""))
    c_prev, c_next, c_where, c_back, c_pick = st.columns([1.3, 1.3, 3, 1.4, 1.6])
    if pos is not None:
        # buttons, not page links: a page link to the page that is open does not navigate in Streamlit
        if isinstance(pos["prev_sample"], str) and c_prev.button("◀ previous (k)", key="trace_prev"):
            st.switch_page("pages/trace.py", query_params=_pairs(pos["prev_run"], pos["prev_sample"], context))
        if isinstance(pos["next_sample"], str) and c_next.button("next (j) ▶", key="trace_next"):
            st.switch_page("pages/trace.py", query_params=_pairs(pos["next_run"], pos["next_sample"], context))
        c_where.caption(md_text(f"{int(pos['pos']):,} of {int(pos['total']):,} in the list: {describe(flt)}"))
    else:
        c_where.caption(md_text(f"Not in the list ({describe(flt)}): previous / next walk that list."))
    if context:
        c_back.page_link("pages/traces.py", label="back to the list",
                         query_params=[(k, v) for k, vals in context.items() for v in vals])
    with c_pick.popover("Open another sample"):
        new_run = st.selectbox("Run", run_ids, format_func=run_label(runs), key="trace_pick_run",
                               index=run_ids.index(run_id))
        new_id = st.text_input("Sample id", value=sample_id, key="trace_pick_id")
        if st.button("Open", key="trace_pick_open"):
            st.switch_page("pages/trace.py", query_params={"run": new_run, "sample": new_id})

    markdown = bool(st.session_state.get("trace_markdown"))
    left, right = st.columns([2, 3])
    with left:
        tv.show_images(images, int(sample["n_images"] or 0))
    with right:
        st.markdown("**Question**")
        tv.show_text(sample["question"] or "(no question stored)", markdown)
        tv.show_answers(sample)
        tv.show_findings(flags)
    tv.show_signals(steps, flags, selected, "trace")
    if steps.empty:
        st.warning("This trace has not been analysed yet: run `workbench analyze` to see steps and findings.")
    else:
        options = [-1, *steps["step_index"].astype(int).tolist()]      # -1: no step selected
        if st.session_state.get("_trace_step_for") != (run_id, sample_id, selected):
            st.session_state["trace_step"] = selected if selected in options else -1   # follow the URL
            st.session_state["_trace_step_for"] = (run_id, sample_id, selected)
        chosen = st.selectbox("Selected step (highlighted; the URL links to it; or click a step number)", options,
                              key="trace_step", format_func=lambda i: "none" if i == -1 else f"step {i}")
        chosen = None if chosen in (-1, None) else int(chosen)
        if chosen != selected:
            if chosen is None:
                del st.query_params["step"]
            else:
                st.query_params["step"] = str(chosen)
            selected = chosen
            st.session_state["_trace_step_for"] = (run_id, sample_id, selected)
        if selected is not None:
            row = steps[steps["step_index"] == selected].iloc[0]
            st.markdown(md_text(f"Step {selected} ({row['role']})"))
            tv.show_text((sample["response"] or "")[int(row["char_start"]):int(row["char_end"])][:2000], markdown)
    probe_panel.show(sample, flags, images, selected, "trace")
    tv.show_trace(sample, steps if not steps.empty else tv.whole_trace_step(sample), flags, selected, "trace", context)
    st.subheader("Tags and notes")
    tv.tags_panel(sample, len(steps), "trace", selected)
