"""Trace view components: header with answers, image, signals chart, the trace, tags and notes."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from workbench.analysis import registry
from workbench.store import findings as store_findings
from workbench.store import probes as store_probes
from workbench.store import queries as q
from workbench.store import tags as store_tags
from workbench.ui.data import cached_df, write
from workbench.ui.safe import md_text, render_markdown
from workbench.viz import charts
from workbench.viz.trace_html import render_trace


def load(run_id: str, sample_id: str) -> tuple[pd.Series | None, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    sample = cached_df(q.SAMPLE, [run_id, sample_id])
    if sample.empty:
        return None, pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    steps = cached_df(q.STEPS, [run_id, sample_id])
    flags = cached_df(store_findings.FLAGS, [run_id, sample_id])
    images = cached_df(q.IMAGES, [run_id, sample_id])
    return sample.iloc[0], steps, flags, images


def show_images(images: pd.DataFrame, n_images: int) -> None:
    if images.empty:
        st.info("No image was given with this question." if not n_images else
                "The image for this sample is not in the store.")
        return
    for _, im in images.iterrows():
        if im["missing"] or im["data"] is None:
            st.warning("Image not available — the source referenced: " + md_text(im["original_ref"]), icon="🖼️")
        else:
            st.image(bytes(im["data"]), caption=f"{im['width']}×{im['height']} px (hover for full screen)")


def show_answers(s: pd.Series) -> None:
    def verdict(v: object) -> str:
        return "—" if v is None or pd.isna(v) else ("correct" if v else "wrong")
    c1, c2, c3 = st.columns(3)
    # metric values and help render Markdown: data goes through md_text
    c1.metric("Ground truth", md_text(str(s["ground_truth"])[:40]) if s["ground_truth"] is not None else "—")
    c2.metric("Extracted answer", md_text(str(s["extracted_answer"])[:40]) if s["extracted_answer"] else "—",
              help=md_text(f"from {s['answer_source'] or 'nothing found'}; graded: {verdict(s['extracted_correct'])}"))
    c3.metric("Grade", verdict(s["grade"]),
              help={"source": "the source's own grade", "workbench": "graded by the workbench (no source grade)"}
              .get(s["graded_by"], "no grade: no source grade and no ground truth to grade against"))
    bits = [f"{int(s['n_steps'])} steps" if pd.notna(s["n_steps"]) else "not analysed",
            f"{int(s['n_switches'])} switches" if pd.notna(s["n_switches"]) else "",
            f"{int(s['n_candidates'])} candidate answers" if pd.notna(s["n_candidates"]) else "",
            "truncated" if s["truncated"] is True else "",
            f"finish: {s['finish_reason']}" if s["finish_reason"] else "",
            f"{len(s['response'] or ''):,} characters"]
    st.caption(md_text(" · ".join(b for b in bits if b)))


def show_findings(flags: pd.DataFrame) -> None:
    if flags.empty:
        st.success("No findings for this trace.")
        return
    for _, f in flags.iterrows():
        details = json.loads(f["details"]) if f["details"] else {}
        spec = next((x for x in registry.specs() if x.name == f["detector"]), None)
        keys = [m.key for m in spec.measures] if spec else []
        extra = ", ".join(f"{k}: {v}" for k, v in details.items() if k in [*keys, "language", "ran_to_end", "rule"])
        tier = "" if (f.get("tier") or "text") == "text" else f" ({f['tier']} tier)"
        step = "" if pd.isna(f["step_index"]) else f" · step {int(f['step_index'])}"
        st.text(f"• {spec.label if spec else f['detector']}{tier} · {f['severity']}{step} · score {f['score']:.2f}"
                + (f" · {extra}" if extra else ""))


def show_trace(s: pd.Series, steps: pd.DataFrame, flags: pd.DataFrame, selected: int | None, key: str,
               context: dict | None = None) -> None:
    from workbench.ui.data import cached_render
    c1, c2 = st.columns(2)
    expand = c1.toggle("Expand collapsed loops", key=f"{key}_expand")
    markdown = c2.toggle("Render Markdown and LaTeX", key=f"{key}_markdown",
                         help="Formatting and formulas drawn by the workbench's safe renderer: no HTML, links or "
                              "images from the trace. Finding highlights show with this off.")
    tags = cached_df(store_tags.TAGS, [s["run_id"], s["sample_id"]])
    ctx = tuple(sorted((k, tuple(v)) for k, v in (context or {}).items()))
    # steps and flags are the store's for (run, sample), or one whole-trace step when unanalysed
    html = cached_render(("trace", s["run_id"], s["sample_id"], selected, expand, markdown, len(steps), len(flags),
                          len(tags), ctx),
                         lambda: render_trace(s["response"] or "", steps.to_dict("records"), flags.to_dict("records"),
                                              run_id=s["run_id"], sample_id=s["sample_id"], selected_step=selected,
                                              expand_loops=expand, tags=tags.to_dict("records"), markdown=markdown,
                                              context=context))
    st.html(html)


def show_text(text: str, markdown: bool) -> None:
    """Trace text (question, a step): plain text, or through the safe renderer."""
    if markdown:
        st.html('<div class="wb-md">' + render_markdown(text) + "</div>")
    else:
        st.text(text)


def with_probe_signals(steps: pd.DataFrame) -> pd.DataFrame:
    """`steps` with the probe's per-step `image_attention_share` (share of attention on image
    tokens, low = not looking) and `visual_dependence` (log-probability gain from the image, low =
    not grounded) when the trace was probed; charts.step_signals draws them."""
    if steps.empty or "run_id" not in steps:
        return steps
    probe = cached_df(store_probes.PROBE_STEPS, [steps["run_id"].iloc[0], steps["sample_id"].iloc[0]])
    if probe.empty:
        return steps
    return steps.merge(probe[["step_index", "image_attention_share", "visual_dependence"]], on="step_index",
                       how="left")


def show_signals(steps: pd.DataFrame, flags: pd.DataFrame, selected: int | None, key: str) -> None:
    """The per-step chart, only when it has something to show (image references or probe curves)."""
    if steps.empty:
        return
    steps = with_probe_signals(steps)
    if not charts.has_step_signals(steps):
        return
    flagged = sorted({int(x) for x in flags["step_index"].dropna()}) if not flags.empty else []
    st.plotly_chart(charts.step_signals(steps, flagged, selected), key=f"{key}_signals")


def tags_panel(s: pd.Series, n_steps: int, key: str, selected: int | None = None) -> None:
    tags = cached_df(store_tags.TAGS, [s["run_id"], s["sample_id"]])
    for _, t in tags.iterrows():
        where = "whole sample" if pd.isna(t["step_index"]) else f"step {int(t['step_index'])}"
        c1, c2 = st.columns([8, 1])
        c1.text(f"{t['tag'] or 'note'} ({where}) — {t['note'] or ''}")  # st.text: data is text, never markup
        if c2.button("Delete", key=f"{key}_del_{t['tag_id']}"):
            write(store_tags.delete_tag, int(t["tag_id"]), s["run_id"], s["sample_id"])
            st.rerun()
    with st.form(f"{key}_tag_form", clear_on_submit=True):
        c1, c2, c3 = st.columns([2, 2, 5])
        target = c1.selectbox("On", ["whole sample"] + [f"step {i}" for i in range(n_steps)], key=f"{key}_tag_target",
                              index=0 if selected is None or selected >= n_steps else selected + 1)
        tag = c2.text_input("Tag", key=f"{key}_tag_text", placeholder="e.g. hallucination")
        note = c3.text_input("Note", key=f"{key}_tag_note")
        if st.form_submit_button("Save"):
            if not tag.strip() and not note.strip():
                st.warning("Write a tag or a note first.")
            else:
                step = None if target == "whole sample" else int(target.split()[1])
                write(store_tags.add_tag, s["run_id"], s["sample_id"], step, tag.strip() or None, note.strip() or None)
                st.rerun()


def whole_trace_step(s: pd.Series) -> pd.DataFrame:
    """An unanalysed trace shown as one step."""
    text = s["response"] or ""
    return pd.DataFrame([{"step_index": 0, "char_start": 0, "char_end": len(text), "role": "computation",
                          "image_ref_count": 0}])
