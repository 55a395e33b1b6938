"""Pure renderers of a ReportData: one self-contained HTML page, or Markdown plus image files.

No I/O and no network: images are data URIs (HTML) or files the caller writes (Markdown); the chart is
inline SVG. Every piece of trace text goes through html.escape (a `<script>` in a trace shows as text).
Data is text (workbench/ui/safe.py): in HTML every field goes through `html_text`; in Markdown every
field (run name, settings, filter, sample ids, question, answers, finding labels, cluster labels,
excerpts, step text) goes through `md_text`/`md_lines`, which backslash-escape all ASCII punctuation, so
a CommonMark viewer shows it as text: no link, image, HTML tag or heading can come from data. Output
is deterministic (no timestamps, no absolute paths) so the Markdown can be pinned by a golden file.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

from workbench import urls
from workbench.analysis import registry
from workbench.report.data import Failure, ReportData
from workbench.ui.safe import html_text, md_escape, md_lines, md_text
from workbench.viz.trace_html import Span, render_range, spans_and_collapses
from workbench.viz.trace_html import css as trace_css

STEP_CHARS = 3000          # offending steps longer than this are cut (the app shows them whole)
e = html_text
NO_APP_URL = ("Links to the app are left out: the app's address is not configured "
              "(set WORKBENCH_APP_URL, e.g. http://127.0.0.1:8501, and write the report again).")


def trace_url(run_id: str, sample_id: str, step: int | None = None) -> str | None:
    """Absolute link to a trace in the app (the one URL builder), or None when the app's address is unknown."""
    return urls.absolute(urls.trace_path(run_id, sample_id, step))


def _a(url: str | None, text: str) -> str:
    """An HTML link around escaped text, or the escaped text alone when there is no URL."""
    return f'<a href="{e(url)}">{e(text)}</a>' if url else e(text)


def _md_link(url: str | None, text: str) -> str:
    """A Markdown link to the app around already-escaped `text` (the URL is ours: encoded, in <...>)."""
    return f"[{text}](<{url}>)" if url and not re.search(r"[<>\s]", url) else text


def _finding_label(f: dict) -> str:
    """detector:severity, with the evidence tier when it is not the text tier."""
    tier = f.get("tier") or "text"
    return f"{f['detector']}:{f['severity']}" + ("" if tier == "text" else f" ({tier})")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def flag_rate_svg(rates: dict[str, float]) -> str:
    """Horizontal bars: share of the report's samples with at least one finding per detector."""
    rows, width = [], 420
    specs = registry.specs()
    for i, spec in enumerate(specs):
        d = spec.name
        w = round(rates.get(d, 0.0) * 260, 1)
        y = 10 + i * 30
        rows.append(f'<text x="0" y="{y + 14}" font-size="12">{e(spec.label)}</text>'
                    f'<rect x="130" y="{y}" width="{w}" height="20" fill="{e(spec.colour)}"/>'
                    f'<text x="{135 + w}" y="{y + 14}" font-size="12">{_pct(rates.get(d, 0.0))}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{20 + 30 * len(specs)}" '
            f'role="img" aria-label="flag rates">{"".join(rows)}</svg>')


def _rate_n(d: ReportData, name: str) -> str:
    n, pool = d.rate_counts.get(name, (None, None))
    return "" if pool is None else f"{n:,} of {pool:,}"


def _summary_rows(d: ReportData) -> list[tuple[str, str]]:
    r = d.run
    return [("run", f"{r['name']} ({r['run_id']})"), ("model", str(r.get("model") or "unknown")),
            ("settings", json.dumps(r.get("settings") or {}, sort_keys=True, ensure_ascii=False)),
            ("filter", d.filter or "none"), ("samples", str(d.n_samples)),
            ("flagged samples", str(d.n_flagged)), ("accuracy", _pct(d.accuracy)),
            ("clustering", d.cluster_run_id or "none (run `workbench cluster`)")]


def _steps_html(f: Failure) -> str:
    text = f.sample.get("response") or ""
    spans, _ = spans_and_collapses(f.flags, expand_loops=True)
    parts = ['<div class="wb-trace">']
    for st in f.steps:
        a, b = int(st["char_start"]), int(st["char_end"])
        cut = min(b, a + STEP_CHARS)
        more = f' <i>… {b - cut:,} more characters</i>' if cut < b else ""
        link = _a(trace_url(f.sample["run_id"], f.sample["sample_id"], st["step_index"]), f"#{st['step_index']}")
        parts.append(f'<div class="wb-step wb-flagged"><div class="wb-num">{link}'
                     f'</div><div class="wb-text">{render_range(text, a, cut, spans)}{more}</div></div>')
    parts.append("</div>")
    return "".join(parts)


def render_html(d: ReportData) -> str:
    """One self-contained page (inline CSS, SVG chart, data-URI images, no scripts, no external URLs)."""
    title = f"Failure report: {d.run['name']}"
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{e(title)}</title>",
           "<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2rem auto;padding:0 1rem}"
           "table{border-collapse:collapse}td,th{border:1px solid #dadce0;padding:.25rem .5rem;text-align:left;"
           "vertical-align:top}.failure{border-top:2px solid #dadce0;margin-top:1.5rem}img{max-width:420px}"
           "</style>", trace_css(), "</head><body>", f"<h1>{e(title)}</h1>", "<h2>Run summary</h2><table>"]
    out += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _summary_rows(d)]
    out += ["</table>"] + ([] if urls.app_base_url() else [f"<p><i>{e(NO_APP_URL)}</i></p>"])
    out += ["<h2>Flag rates</h2>", flag_rate_svg(d.flag_rates),
            "<table><tr><th>detector</th><th>share</th><th>samples flagged</th></tr>"]
    out += [f"<tr><td>{e(s.label)}</td><td>{_pct(d.flag_rates.get(s.name, 0.0))}</td><td>{e(_rate_n(d, s.name))}"
            f"{' with an image' if s.requires_image else ''}</td></tr>" for s in registry.specs()]
    out += ["</table>", "<h2>Clusters</h2>"]
    if d.clusters:
        out.append("<table><tr><th>cluster</th><th>label</th><th>size</th><th>accuracy</th>"
                   "<th>representatives</th></tr>")
        for c in d.clusters:
            reps = "".join(f'<li>{_a(trace_url(d.run["run_id"], r["sample_id"], r["step_index"]), r["sample_id"])}'
                           f': {e((r["excerpt"] or "")[:160])}</li>'
                           for r in c["representatives"])
            out.append(f"<tr><td>{c['cluster_id']}</td><td>{e(c['label'])}</td><td>{c['size']}</td>"
                       f"<td>{_pct(c['accuracy'])}</td><td><ul>{reps}</ul></td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No clustering covers this run.</p>")
    out.append(f"<h2>Failures ({len(d.failures)} of {d.n_flagged} flagged samples)</h2>")
    for f in d.failures:
        s = f.sample
        link = trace_url(s["run_id"], s["sample_id"])
        out.append(f'<section class="failure"><h3>{e(s["sample_id"])} '
                   + (f'<a href="{e(link)}">open in the app</a>' if link else "") + "</h3>")
        if f.image:
            mime = "jpeg" if f.image[1] in ("jpg", "jpeg") else f.image[1]
            out.append(f'<img alt="{e(f.image[0])}" src="data:image/{e(mime)};base64,'
                       f'{base64.b64encode(f.image[2]).decode()}">')
        if f.overlay:
            out.append(f'<figure><img alt="attention overlay" src="data:image/png;base64,'
                       f'{base64.b64encode(f.overlay[1]).decode()}"><figcaption>{e(f.overlay[0])}</figcaption></figure>')
        out.append(f"<p><b>Question:</b> {e(s.get('question') or '')}</p>"
                   f"<p><b>Answer:</b> {e(str(s.get('final_answer') or ''))} · <b>expected:</b> "
                   f"{e(str(s.get('ground_truth') or ''))} · <b>correct:</b> {e(str(s.get('correct')))}</p>")
        out.append("<p><b>Findings:</b> " + e(", ".join(sorted({_finding_label(x)
                                                                for x in f.flags}))) + "</p>")
        out.append(_steps_html(f) + "</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _md_steptext(text: str, a: int, b: int, spans: list[Span]) -> str:
    """A step as a Markdown blockquote: escaped text, flagged spans in <mark> (our only HTML)."""
    cut = min(b, a + STEP_CHARS)
    pieces, pos = [], a
    for sp in spans:
        if sp.end <= pos or sp.start >= cut:
            continue
        start, end = max(sp.start, pos), min(sp.end, cut)
        pieces += [("t", text[pos:start]), ("m", text[start:end])]
        pos = end
    pieces.append(("t", text[pos:cut]))
    lines: list[str] = [""]
    for kind, chunk in pieces:
        parts = chunk.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append("")
            esc = md_escape(part)
            lines[-1] += f"<mark>{esc}</mark>" if kind == "m" and esc.strip() else esc
    if cut < b:
        lines[-1] += f" … ({b - cut:,} more characters)"
    return "\n".join("> " + line for line in lines)


def render_markdown(d: ReportData, image_folder: str) -> tuple[str, dict[str, bytes]]:
    """Markdown text (relative image links into `image_folder`) and the image files {name: bytes}."""
    files: dict[str, bytes] = {}
    folder = quote(image_folder)
    md = [f"# Failure report: {md_text(d.run['name'])}", "", "## Run summary", "", "| | |", "|---|---|"]
    md += [f"| {md_text(k)} | {md_text(v)} |" for k, v in _summary_rows(d)]
    if not urls.app_base_url():
        md += ["", f"*{md_text(NO_APP_URL)}*"]
    md += ["", "## Flag rates", "", "| detector | share of samples | samples |", "|---|---|---|"]
    md += [f"| {md_text(s.label)} | {_pct(d.flag_rates.get(s.name, 0.0))} | "
           f"{md_text(_rate_n(d, s.name))}{' with an image' if s.requires_image else ''} |"
           for s in registry.specs()]
    files["flag_rates.svg"] = flag_rate_svg(d.flag_rates).encode("utf-8")
    md += ["", f"![flag rates]({folder}/flag_rates.svg)"]
    md += ["", "## Clusters", ""]
    if not d.clusters:
        md.append("No clustering covers this run.")
    for c in d.clusters:
        md.append(f"- **cluster {int(c['cluster_id'])}** ({int(c['size'])} units, accuracy {_pct(c['accuracy'])}): "
                  f"{md_text(c['label'])}")
        for r in c["representatives"]:
            link = _md_link(trace_url(d.run["run_id"], r["sample_id"], r["step_index"]), md_text(r["sample_id"]))
            md.append(f"  - {link}: {md_text((r['excerpt'] or '')[:160])}")
    md += ["", f"## Failures ({len(d.failures)} of {d.n_flagged} flagged samples)", ""]
    for f in d.failures:
        s = f.sample
        link = trace_url(s["run_id"], s["sample_id"])
        md += [f"### {md_text(s['sample_id'])}", ""] + ([_md_link(link, "open in the app"), ""] if link else [])
        if f.image:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{f.image[0]}.{f.image[1]}")
            files[name] = f.image[2]
            md += [f"![{md_text(f.image[0])}]({folder}/{name})", ""]
        if f.overlay:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", f"overlay-{s['sample_id']}.png")
            files[name] = f.overlay[1]
            md += [f"![attention overlay]({folder}/{name})", "", f"*{md_text(f.overlay[0])}*", ""]
        md += ["**Question:**", ""] + ["> " + line for line in md_lines(s.get("question") or "")] + [""]
        md += [f"**Answer:** {md_text(s.get('final_answer') or '')} · **expected:** "
               f"{md_text(s.get('ground_truth') or '')} · **correct:** {md_text(s.get('correct'))}", "",
               "**Findings:** " + md_text(", ".join(sorted({_finding_label(x) for x in f.flags}))), ""]
        spans, _ = spans_and_collapses(f.flags, expand_loops=True)
        for st in f.steps:
            link = _md_link(trace_url(s["run_id"], s["sample_id"], st["step_index"]), "#" + str(int(st["step_index"])))
            md += [f"Step {link}:",
                   "", _md_steptext(s.get("response") or "", int(st["char_start"]), int(st["char_end"]), spans), ""]
    return "\n".join(md).rstrip() + "\n", files
