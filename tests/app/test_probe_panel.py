"""The probe's views with a probed store (AppTest): trace-view panel and the overview curve."""

from __future__ import annotations

import pytest
from apptest_util import all_text, page, use_store

pytestmark = [pytest.mark.models, pytest.mark.xdist_group("probe")]


@pytest.fixture
def probed_env(probed_demo):
    with use_store(probed_demo[0]) as db:
        yield db


def test_trace_view_shows_overlay_controls_curve_and_hover_widget(probed_env):
    at = page("trace", timeout=90, run="demo-synthetic", sample="decline", step="3")
    t = all_text(at)
    assert "Look inside: attention on the image (probe)" in t and "image tokens" in t
    captions = "\n".join(i.proto.imgs[0].caption for i in at.get("image") if i.proto.imgs)
    assert "Attention over the image: step 3 (tokens" in captions and "layers 0–3, head mean" in captions
    charts = at.get("plotly_chart")
    assert len(charts) == 2                                   # signals (with probe curves) + grounding curve
    assert at.select_slider(key="trace_probe_layers").value == (0, 3)
    assert at.radio(key="trace_probe_heads").options == ["mean", "max"]
    frames = at.get("iframe")
    assert len(frames) == 1 and "hover a token" in frames[0].proto.srcdoc    # the token-hover widget
    # a narrower layer range and the head max change nothing but the map: no errors
    at.select_slider(key="trace_probe_layers").set_value((2, 3)).run()
    at.radio(key="trace_probe_heads").set_value("max").run()
    captions = "\n".join(i.proto.imgs[0].caption for i in at.get("image") if i.proto.imgs)
    assert "layers 2–3, head max" in captions
    at.radio(key="trace_probe_mode").set_value("token range").run()
    lo, hi = at.slider(key="trace_probe_tokens").value
    assert not at.exception and hi > lo


def test_unprobed_and_skipped_samples_say_so(probed_env):
    at = page("trace", timeout=90, run="demo-synthetic", sample="missing-image")
    assert "The probe skipped this sample" in all_text(at)


def test_overview_shows_the_reliance_curve(probed_env):
    at = page("overview", timeout=90)
    assert "Image reliance along the trace (probe)" in all_text(at)
    assert any(getattr(c.proto, "id", "") and "reliance" in str(c.proto) for c in at.get("plotly_chart")) or \
        len(at.get("plotly_chart")) == 5
