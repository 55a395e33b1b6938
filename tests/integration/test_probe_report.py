"""Failure reports carry the probe's attention overlay (rendered by the same pure renderer)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.models, pytest.mark.xdist_group("probe")]


def test_report_of_a_probed_run_has_overlays(probed_demo, tmp_path):
    from workbench.report.data import load_report
    from workbench.report.render import render_html, render_markdown
    db, _ = probed_demo
    data = load_report(db, "demo-synthetic")
    with_overlay = [f for f in data.failures if f.overlay]
    assert with_overlay, "no failure of the probed demo got an overlay"
    caption, png = with_overlay[0].overlay
    assert caption.startswith("Attention on the image at step ") and png.startswith(b"\x89PNG")
    html = render_html(data)
    assert html.count('alt="attention overlay" src="data:image/png;base64,') == len(with_overlay)
    md, files = render_markdown(data, "img")
    names = [n for n in files if n.startswith("overlay-")]
    assert len(names) == len(with_overlay) and all(f"](img/{n})" in md for n in names)
    # samples without a probe row keep the report as it was
    assert all(f.overlay is None for f in data.failures if not f.image)
