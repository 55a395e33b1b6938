"""Two traces side by side, steps aligned, differences highlighted (escaped HTML)."""

from __future__ import annotations

import html

from workbench.analysis.align import align, diff_html

CSS = """<style>
.wb-cmp{width:100%;border-collapse:collapse;font-size:14px;line-height:1.5;table-layout:fixed}
.wb-cmp td{vertical-align:top;border-bottom:1px solid #eee;padding:.35rem .5rem;
  white-space:pre-wrap;word-break:break-word}
.wb-cmp td.n{width:3rem;color:#80868b;font-size:12px}
.wb-cmp tr.gap td.t{background:#f8f9fa}
del.wb-del{background:#fad2cf;text-decoration:line-through}
ins.wb-ins{background:#ceead6;text-decoration:none}
</style>"""


def render_compare(a_steps: list[str], b_steps: list[str]) -> tuple[str, dict]:
    pairs = align(a_steps, b_steps)
    rows = []
    for i, j, sim in pairs:
        if i is not None and j is not None:
            left, right = diff_html(a_steps[i], b_steps[j]) if sim < 0.999 else (html.escape(a_steps[i]),
                                                                                 html.escape(b_steps[j]))
            cls = ""
        else:
            left = html.escape(a_steps[i]) if i is not None else ""
            right = html.escape(b_steps[j]) if j is not None else ""
            cls = ' class="gap"'
        rows.append(f"<tr{cls}><td class='n'>{'' if i is None else i}</td><td class='t'>{left}</td>"
                    f"<td class='n'>{'' if j is None else j}</td><td class='t'>{right}</td></tr>")
    stats = {"aligned": sum(1 for i, j, _ in pairs if i is not None and j is not None),
             "only_left": sum(1 for _, j, _ in pairs if j is None),
             "only_right": sum(1 for i, _, _ in pairs if i is None),
             "identical": sum(1 for _, _, s in pairs if s >= 0.999)}
    return CSS + "<table class='wb-cmp'>" + "".join(rows) + "</table>", stats
