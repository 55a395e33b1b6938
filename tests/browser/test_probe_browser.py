"""The probe's overlay in the real app (headless Chromium): open a probed trace, select a step,
see that step's overlay (pixel-equal to the pure renderer's picture), hover a token."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ui_helpers import pick_option

from workbench.ui.serve import CHROMIUM, running_app

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.xdist_group("probe")]


@pytest.fixture(scope="module")
def probe_server(probed_demo):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)")
    db, _ = probed_demo
    with running_app(db) as url:
        yield url, db


def expected_overlay(db: Path, step: int) -> Image.Image:
    import duckdb

    from workbench.ui.probe_panel import probe_file
    from workbench.viz import overlay
    con = duckdb.connect(str(db), read_only=True)
    try:
        path, = con.execute("SELECT maps_path FROM probe_traces WHERE sample_id = 'decline'").fetchone()
        data, = con.execute("SELECT b.data FROM samples s, image_blobs b WHERE s.sample_id = 'decline' "
                            "AND b.image_id = s.image_ids[1]").fetchone()
    finally:
        con.close()
    pf = probe_file(path)
    k = pf.meta["step_index"].index(step)
    return overlay.render_overlay(bytes(data), pf.grids[0], pf.step_map(k, pf.layers, "mean"), opacity=0.55,
                                  cmap="inferno", max_side=900)


def test_select_a_step_and_see_its_overlay_then_hover_a_token(probe_server, browser, artifacts_dir):
    url, db = probe_server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + "/trace?run=demo-synthetic&sample=decline")
    page.get_by_text("Look inside: attention on the image (probe)").wait_for(timeout=60000)
    # select step 5 with the step selector (the URL follows)
    page.get_by_text("Selected step (highlighted").wait_for()
    page.wait_for_timeout(500)
    pick_option(page, "Selected step", "step 5")
    caption = page.get_by_text("Attention over the image: step 5 (tokens", exact=False)
    caption.wait_for(timeout=60000)
    assert "step=5" in page.url
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60000)
    # the picture the browser shows is exactly the renderer's overlay for that step
    srcs = page.eval_on_selector_all('[data-testid="stImage"] img', "els => els.map(e => e.src)")
    shown = [Image.open(io.BytesIO(page.request.get(s).body())).convert("RGB") for s in srcs]
    want = expected_overlay(db, 5)
    assert any(im.size == want.size and np.array_equal(np.asarray(im), np.asarray(want)) for im in shown)
    caption.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "browser-probe-overlay.png"))
    # hovering a token in the widget paints that token's map
    frame = next(f for f in page.frames if f != page.main_frame and f.locator("#toks").count())
    token = frame.locator("#toks span").nth(3)
    token.hover()
    assert frame.locator("#cap").inner_text().startswith("token ")
    assert frame.locator("#toks span.on").count() == 1
    page.locator("iframe").first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "browser-probe-hover.png"))
    # clicking a point of the grounding curve selects that step
    curve = page.locator(".js-plotly-plot").filter(has_text="Grounding along the trace")
    curve.scroll_into_view_if_needed()
    point = curve.locator(".scatterlayer .trace").first.locator(".points path").nth(8)
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Attention over the image: step 8 (tokens", exact=False).wait_for(timeout=60000)
    assert "step=8" in page.url
    page.close()
