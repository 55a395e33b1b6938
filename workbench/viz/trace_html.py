"""A trace as HTML, step by step: role badges, findings highlighted inline, loops collapsed.

Every piece of trace text goes through html.escape: a response containing `<script>` or
`<img onerror=...>` is shown as text. With `markdown=True` each step's text goes through the one safe
renderer instead (workbench/ui/safe.py: Markdown and LaTeX, no HTML, links or images from data).
Offsets are the store's exact character offsets.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench import urls
from workbench.analysis import registry
from workbench.ui.safe import MATH_CSS, render_markdown

ROLE_COLORS = {"perception": "#1a73e8", "computation": "#5f6368", "reflection": "#e37400", "switch": "#9334e6",
               "conclusion": "#188038"}

def _marks_css() -> str:
    """One highlight style per registered detector, in its registry colour."""
    return "".join(f"mark.{s.mark_class}{{background:{s.colour}33;border-bottom:2px solid {s.colour};padding:0 1px}}"
                   for s in registry.specs())


CSS_BASE = """
.wb-trace{font-family:ui-sans-serif,system-ui,sans-serif;font-size:15px;line-height:1.55}
.wb-step{display:flex;gap:.75rem;padding:.45rem .6rem;border-left:3px solid #e8eaed;margin:.15rem 0}
.wb-step.wb-selected{background:#fef7e0;border-left-color:#f9ab00}
.wb-step.wb-flagged{border-left-color:#d93025}
.wb-num{min-width:3.2rem;color:#5f6368;font-size:12px;text-align:right;padding-top:.2rem}
.wb-num a{color:#5f6368;text-decoration:none}
.wb-role{display:inline-block;font-size:11px;color:#fff;border-radius:8px;padding:0 .45rem;margin-bottom:.15rem}
.wb-text{white-space:pre-wrap;word-break:break-word;flex:1}
details.wb-collapsed{display:inline;background:#e8f0fe;border-radius:4px;padding:0 .3rem}
details.wb-collapsed summary{cursor:pointer;color:#1967d2;font-size:13px;display:inline}
.wb-hidden-step{color:#5f6368;font-size:13px;padding:.1rem .6rem .1rem 4.4rem}
.wb-loop-note{display:block;color:#174ea6;font-size:13px;margin:.15rem 0}
.wb-tag{display:inline-block;font-size:12px;background:#fce8e6;color:#a50e0e;border-radius:8px;padding:0 .45rem;
 margin:0 0 .15rem .35rem}
.wb-md p{margin:.2rem 0}.wb-md table{border-collapse:collapse}.wb-md td,.wb-md th{border:1px solid #dadce0;
 padding:.1rem .4rem}.wb-md .wb-img,.wb-md .wb-link{color:#5f6368}.wb-text.wb-md{white-space:normal}
"""


def css() -> str:
    """The trace view's style sheet (role badges, steps, one highlight per registered detector)."""
    return "<style>" + CSS_BASE + _marks_css() + "</style>" + MATH_CSS


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    css: str
    title: str


def _loads(v: Any) -> dict:
    if isinstance(v, dict):
        return v
    try:
        return json.loads(v) if v else {}
    except (TypeError, ValueError):
        return {}


def spans_and_collapses(flags: Iterable[dict], *, expand_loops: bool) -> tuple[list[Span], list[tuple[int, int, str]]]:
    """Inline highlights and collapsed regions (start, end, summary) from flag rows."""
    spans, collapses = [], []
    for f in flags:
        a, b = f.get("char_start"), f.get("char_end")
        if a is None or b is None or b <= a:
            continue
        det, sev = f.get("detector"), f.get("severity")
        details = _loads(f.get("details"))
        spec = next((s for s in registry.specs() if s.name == det), None)
        if spec is None:
            continue
        if spec.collapse:
            period, copies = details.get("period_chars"), details.get("copies")
            if sev != "cycle" and period and copies and copies > 1 and not expand_loops:
                collapses.append((int(a) + int(period), int(b),
                                  f"repeated {copies} times ({int(b) - int(a):,} characters): the first copy is "
                                  f"above; show the other {int(copies) - 1}"))
                spans.append(Span(int(a), int(a) + int(period), spec.mark_class,
                                  f"{spec.label}: first of {copies} copies"))
            else:
                spans.append(Span(int(a), int(b), spec.mark_class, f"{sev}: {details.get('copies', '?')} copies"))
        else:
            label = details.get("language") or details.get("rule") or ""
            spans.append(Span(int(a), int(b), spec.mark_class, f"{spec.label} ({sev}{', ' + label if label else ''})"))
    spans.sort(key=lambda s: (s.start, -s.end))
    collapses.sort()
    return spans, collapses


def render_range(text: str, a: int, b: int, spans: list[Span]) -> str:
    """Escaped text[a:b] with the highlights that intersect it."""
    out, pos = [], a
    for s in spans:
        if s.end <= pos or s.start >= b:
            continue
        start, end = max(s.start, pos), min(s.end, b)
        out.append(html.escape(text[pos:start]))
        out.append(f'<mark class="{s.css}" title="{html.escape(s.title)}">{html.escape(text[start:end])}</mark>')
        pos = end
    out.append(html.escape(text[pos:b]))
    return "".join(out)


def _hidden(first: int, last: int, text: str, loop: tuple[int, int, str]) -> str:
    """The folded steps of a loop: one line saying what is folded, which opens to the folded text."""
    what = f"step {first}" if first == last else f"steps {first}–{last}"
    c0, c1, label = loop
    return (f'<div class="wb-hidden-step"><details class="wb-collapsed"><summary>{html.escape(label)} '
            f'({what} folded)</summary>{html.escape(text[c0:c1])}</details></div>')


def _tags_html(tags: list[dict]) -> str:
    return "".join(f'<span class="wb-tag" title="{html.escape(str(t.get("note") or ""))}">'
                   f'{html.escape(str(t.get("tag") or "note"))}'
                   f'{": " + html.escape(str(t.get("note"))[:60]) if t.get("note") else ""}</span>' for t in tags)


def render_trace(response: str, steps: list[dict], flags: list[dict], *, run_id: str = "", sample_id: str = "",
                 selected_step: int | None = None, expand_loops: bool = False, tags: list[dict] | None = None,
                 markdown: bool = False, context: dict | None = None) -> str:
    """The whole trace as one HTML fragment (with its CSS). `tags` (rows with step_index, tag, note) show
    on their steps; `markdown` renders each step through the safe renderer (highlights are then left out;
    loops stay collapsed); `context` is the list the trace was opened from (kept in step links)."""
    text = response or ""
    spans, collapses = spans_and_collapses(flags, expand_loops=expand_loops)
    sel = next(((int(x["char_start"]), int(x["char_end"])) for x in steps
                if selected_step is not None and int(x["step_index"]) == selected_step), None)
    if sel:   # a link to a step hidden inside a folded loop lands on it: that loop is not folded
        collapses = [c for c in collapses if not (c[0] <= sel[0] and sel[1] <= c[1])]
    if markdown:
        spans = []
    flagged_steps = {f.get("step_index") for f in flags}
    by_step: dict[int, list[dict]] = {}
    for t in tags or []:
        if t.get("step_index") is not None and t.get("step_index") == t.get("step_index"):
            by_step.setdefault(int(t["step_index"]), []).append(t)
    parts = [css(), '<div class="wb-trace">']
    hidden: list[int] = []
    loop: tuple[int, int, str] | None = None
    for st in steps:
        a, b, idx = int(st["char_start"]), int(st["char_end"]), int(st["step_index"])
        inside = next(((c0, c1, label) for c0, c1, label in collapses if c0 <= a and b <= c1), None)
        if inside:
            if hidden and inside != loop:
                parts.append(_hidden(hidden[0], hidden[-1], text, loop))
                hidden = []
            hidden.append(idx)
            loop = inside
            continue
        if hidden:
            parts.append(_hidden(hidden[0], hidden[-1], text, loop))
            hidden = []
        body, pos = [], a
        def chunk(x: int, y: int) -> str:
            return render_markdown(text[x:y], css=False) if markdown else render_range(text, x, y, spans)
        for c0, c1, label in collapses:
            if c1 <= pos or c0 >= b:
                continue
            body.append(chunk(pos, max(c0, pos)))
            if c0 >= a and not any(c0 <= int(x["char_start"]) and int(x["char_end"]) <= c1 for x in steps):
                # the folded copies start inside this step and fill no whole step: fold them here
                body.append(f'<details class="wb-collapsed"><summary>{html.escape(label)}</summary>'
                            f'{html.escape(text[c0:c1])}</details>')
            pos = min(c1, b)
        body.append(chunk(pos, b))
        role = str(st.get("role") or "computation")
        classes = "wb-step" + (" wb-selected" if idx == selected_step else "") + \
            (" wb-flagged" if idx in flagged_steps else "")
        link = html.escape(urls.trace_path(run_id, sample_id, idx, context)) if run_id else f"#step-{idx}"
        parts.append(
            f'<div class="{classes}" id="step-{idx}"><div class="wb-num"><a href="{link}" target="_self" '
            f'data-step="{idx}" title="select this step (the URL links to it)">#{idx}</a></div>'
            f'<div class="wb-text{" wb-md" if markdown else ""}">'
            f'<span class="wb-role" style="background:{ROLE_COLORS.get(role, "#5f6368")}">{html.escape(role)}</span>'
            f'{_tags_html(by_step.get(idx, []))}\n{"".join(body)}</div></div>')
    if hidden:
        parts.append(_hidden(hidden[0], hidden[-1], text, loop))
    parts.append("</div>")
    return "".join(parts)


def excerpt_html(excerpt: str, span_start: int | None, span_end: int | None, limit: int = 600) -> str:
    """A cluster member's excerpt as escaped HTML with its flagged span marked."""
    text = (excerpt or "")[:limit]
    body = html.escape(text)
    if span_start is not None and span_end is not None and span_start == span_start and span_end == span_end:
        a, b = max(0, int(span_start)), min(len(text), int(span_end))
        if a < b:
            body = (html.escape(text[:a]) + '<mark class="wb-span">' + html.escape(text[a:b]) + "</mark>"
                    + html.escape(text[b:]))
    return ('<div class="wb-excerpt" style="white-space:pre-wrap;word-break:break-word;font-size:14px;'
            'line-height:1.5;border-left:3px solid #dadce0;padding:.3rem .6rem;margin:.2rem 0 .8rem">'
            '<style>mark.wb-span{background:#fbbc0455;border-bottom:2px solid #f29900}</style>' + body + "</div>")
