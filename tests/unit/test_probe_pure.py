"""The probe's pure parts: grid geometry, overlay heat, map files, the model-tier detector."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from workbench.analysis import reliance
from workbench.probe import maps
from workbench.probe.grid import ImageGrid, grids_from_thw
from workbench.viz import overlay


def test_grid_geometry_square_and_non_square() -> None:
    g = ImageGrid(1, 16, 16, 224, 224)                # 224x224 -> 64 tokens on 8x8
    assert (g.rows, g.cols, g.n_tokens) == (8, 8, 64)
    assert g.cell_of_token(9) == (1, 1) and g.token_of_cell(7, 7) == 63
    assert g.cell_box(1, 2) == (56.0, 28.0, 84.0, 56.0)
    w = ImageGrid(1, 12, 18, 600, 400)                # resized 252x168 -> 6 rows x 9 cols
    assert (w.rows, w.cols, w.n_tokens) == (6, 9, 54)
    assert w.cell_of_token(10) == (1, 1)
    _x0, _y0, x1, y1 = w.cell_box(5, 8)                 # last cell ends at the image's corner
    assert (round(x1), round(y1)) == (600, 400)
    assert w.cell_at_pixel(599, 399) == (5, 8) and w.cell_at_pixel(0, 0) == (0, 0)
    with pytest.raises(IndexError):
        w.cell_of_token(54)
    two = grids_from_thw([[1, 16, 16], [1, 12, 18]], [(224, 224), (600, 400)])
    assert two[1].token_offset == 64
    v = np.arange(64 + 54, dtype=np.float32)
    assert two[1].as_grid(v)[0, 0] == 64 and two[1].as_grid(v).shape == (6, 9)


@pytest.mark.parametrize("size,thw,cell", [((224, 224), (1, 16, 16), (3, 5)), ((600, 400), (1, 12, 18), (4, 2))])
def test_overlay_puts_the_heat_on_the_known_cell(size: tuple, thw: tuple, cell: tuple) -> None:
    g = ImageGrid(*thw, *size)
    values = np.zeros(g.n_tokens, dtype=np.float32)
    values[g.token_of_cell(*cell)] = 0.7
    im = Image.new("RGB", size, (128, 128, 128))
    out = overlay.render_overlay(im, g, values, opacity=1.0, cmap="viridis")
    assert out.size == size
    lut = overlay.colormap("viridis")
    x0, y0, x1, y1 = g.cell_box(*cell)
    hot = out.getpixel((int((x0 + x1) / 2), int((y0 + y1) / 2)))
    assert hot == tuple(lut[255])
    # every pixel outside the cell is the coldest colour; half opacity blends with the image
    cold_xy = (int(x1) + 2 if x1 + 2 < size[0] else int(x0) - 3, int((y0 + y1) / 2))
    assert out.getpixel(cold_xy) == tuple(lut[0])
    half = overlay.render_overlay(im, g, values, opacity=0.5, cmap="viridis")
    px = half.getpixel((int((x0 + x1) / 2), int((y0 + y1) / 2)))
    assert all(abs(p - (128 + int(c)) / 2) <= 1 for p, c in zip(px, lut[255]))


def test_overlay_rejects_bad_input() -> None:
    g = ImageGrid(1, 16, 16, 224, 224)
    with pytest.raises(ValueError, match="colormap"):
        overlay.colormap("rainbow")
    with pytest.raises(ValueError, match="probe saw"):
        overlay.render_overlay(Image.new("RGB", (100, 100)), g, np.zeros(64))
    with pytest.raises(ValueError, match="opacity"):
        overlay.render_overlay(Image.new("RGB", (224, 224)), g, np.zeros(64), opacity=2)


def test_token_hover_html_keeps_trace_text_inert() -> None:
    g = ImageGrid(1, 16, 16, 224, 224)
    buf = io.BytesIO()
    Image.new("RGB", (224, 224), "white").save(buf, format="PNG")
    texts = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>", " & done"]
    html = overlay.token_hover_html(buf.getvalue(), g, texts, np.random.default_rng(0).random((3, 64)))
    assert "<img src=x" not in html and "</script><script>alert" not in html
    assert html.count("<script") == 2          # the JSON island and the widget's own code
    assert "\\u003cimg src=x onerror=alert(2)\\u003e" in html
    assert "textContent = t" in html           # tokens are set as text, never as HTML


def test_map_file_round_trip_and_quantisation(tmp_path) -> None:
    rng = np.random.default_rng(1)
    n, n_img, n_layers = 300, 64, 3
    m = rng.random((n, n_img)).astype(np.float32) * 0.01
    q, scale = maps.quantize_rows(m)
    assert q.dtype == np.uint8 and np.allclose(q.max(axis=1), 255)
    pf = maps.ProbeFile(token_maps=q, token_scale=scale, token_share=rng.random((n_layers, n)).astype(np.float16),
                        logprob_image=-rng.random(n).astype(np.float32),
                        logprob_no_image=-rng.random(n).astype(np.float32),
                        token_spans=np.stack([np.arange(n), np.arange(n) + 1], 1).astype(np.int32),
                        step_tokens=np.array([[0, 100], [100, 300]], np.int32),
                        step_maps=rng.random((2, n_layers, n_img)).astype(np.float16), step_maps_max=None,
                        meta={"layers": [0, 5, 9], "grids": [ImageGrid(1, 16, 16, 224, 224).to_dict()],
                              "step_index": [0, 1]})
    path = tmp_path / maps.file_name("run a", "id/with:odd chars")
    size = maps.write(path, pf)
    assert path.exists() and size == path.stat().st_size and not list(path.parent.glob("*.tmp*"))
    back = maps.read(path)
    assert back.layers == [0, 5, 9] and back.grids[0].n_tokens == 64
    assert np.abs(back.token_map(10) - m[10]).max() <= scale[10] / 510 + 1e-9
    assert np.allclose(back.token_map(0, 300), m.mean(0), atol=float(scale.max()) / 510)
    assert np.allclose(back.step_map(1, [5, 9]), pf.step_maps[1, 1:].astype(np.float32).mean(0))
    with pytest.raises(ValueError, match="head-max"):
        back.step_map(0, heads="max")
    with pytest.raises(ValueError, match="probed"):
        back.step_map(0, [3])
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    from workbench.errors import WorkbenchError
    with pytest.raises(WorkbenchError, match="cannot be read"):
        maps.read(tmp_path / "bad.npz")
    with pytest.raises(WorkbenchError, match="missing"):
        maps.read(tmp_path / "gone.npz")


def curve(values: list[float], tokens: int = 50, col: str = "image_attention_lift") -> list[dict]:
    return [{"step_index": i, "token_start": i * tokens, "token_end": (i + 1) * tokens, "char_start": i * 200,
             "char_end": (i + 1) * 200, col: v} for i, v in enumerate(values)]


def test_reliance_flags_a_sustained_drop_with_onset_and_tier() -> None:
    f = reliance.detect(curve([0.30, 0.28, 0.31, 0.29, 0.27, 0.10, 0.08, 0.07, 0.06, 0.05]), "attention")
    assert len(f) == 1
    f = f[0]
    assert f.tier == "attention" and f.detector == "grounding_loss" and f.step_index == 5
    assert f.details["onset_token"] == 250 and f.details["ran_to_end"] and f.severity == "high"
    assert 0.7 < f.score < 0.85 and f.char_start == 1000


def test_reliance_ignores_flat_noisy_short_dips_and_never_grounded_traces() -> None:
    assert reliance.detect(curve([0.3, 0.29, 0.31, 0.3, 0.28, 0.3, 0.31, 0.29, 0.3, 0.3]), "attention") == []
    # a one-step dip that recovers is not sustained
    assert reliance.detect(curve([0.3, 0.3, 0.3, 0.05, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]), "attention") == []
    # visual dependence that was never there cannot be lost
    vd = curve([0.02, 0.01, 0.0, 0.0, 0.0, 0.0], col="visual_dependence")
    assert reliance.detect(vd, "visual_dependence") == []
    # a drop that recovers before the end is found, as low severity
    f = reliance.detect(curve([0.4, 0.4, 0.1, 0.1, 0.1, 0.1, 0.4, 0.4, 0.4, 0.4], col="visual_dependence"),
                        "visual_dependence")
    assert len(f) == 1 and f[0].severity == "low" and not f[0].details["ran_to_end"] and f[0].step_index == 2
    # steps without tokens or values are skipped, not crashed on
    rows = curve([0.3, None, 0.3, 0.3])
    rows[1]["image_attention_lift"] = float("nan")
    assert reliance.detect(rows, "attention") == []


def test_reliance_fraction_is_adjustable() -> None:
    c = curve([0.3, 0.3, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2])   # falls to 2/3 of the early level
    assert reliance.detect(c, "attention") == []
    assert len(reliance.detect(c, "attention", fraction=0.8)) == 1
