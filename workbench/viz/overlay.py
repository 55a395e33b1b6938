"""Attention heatmaps over the image (pure: numpy + Pillow; used by the app and the report export).

`render_overlay(image, grid, values)` paints each image token's cell of Qwen2-VL's grid over the
original image: the cell of token k covers `grid.cell_box(*grid.cell_of_token(k))`, i.e. 28 x
28 px of the resized image scaled back to original pixels. Values are min-max normalised (the
hottest cell gets the top colour of the colormap, the coldest the bottom one) and blended with the image at
`opacity`. `token_hover_html` builds a self-contained widget where hovering a token of the trace
shows that token's map; all trace text goes in as JSON and is set with textContent (never HTML).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from workbench.probe.grid import ImageGrid

# Anchor colours (low -> high) of a few perceptual colormaps; interpolated to 256 entries.
_ANCHORS = {
    "inferno": ["#000004", "#1b0c41", "#4a0c6b", "#781c6d", "#a52c60", "#cf4446", "#ed6925", "#fb9b06",
                "#f7d13d", "#fcffa4"],
    "viridis": ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58",
                "#b5de2b", "#fde725"],
    "turbo": ["#30123b", "#4662d7", "#36aaf9", "#1ae4b6", "#72fe5e", "#c8ef34", "#faba39", "#f66b19",
              "#ca2a04", "#7a0403"],
    "reds": ["#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15", "#67000d"],
}
COLORMAPS = tuple(_ANCHORS)


def colormap(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table."""
    if name not in _ANCHORS:
        raise ValueError(f"unknown colormap {name!r}: choose one of {', '.join(COLORMAPS)}")
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in _ANCHORS[name]], dtype=np.float64)
    x = np.linspace(0, 1, len(rgb))
    t = np.linspace(0, 1, 256)
    return np.stack([np.interp(t, x, rgb[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


def to_image(image: bytes | Image.Image) -> Image.Image:
    im = Image.open(io.BytesIO(image)) if isinstance(image, (bytes, bytearray, memoryview)) else image
    return im.convert("RGB")


def cell_values(grid: ImageGrid, values: np.ndarray) -> np.ndarray:
    """(rows, cols) values of one image: from a vector over all image tokens, or already a grid."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 2:
        if v.shape != (grid.rows, grid.cols):
            raise ValueError(f"map of shape {v.shape} does not match the {grid.rows}x{grid.cols} grid")
        return v
    return grid.as_grid(v)


def normalise(cells: np.ndarray) -> np.ndarray:
    """Min-max to 0..1: the coldest cell gets the colormap's bottom colour, the hottest its top
    (an exactly uniform map is all bottom)."""
    if not cells.size:
        return cells
    lo, hi = float(cells.min()), float(cells.max())
    return (cells - lo) / (hi - lo) if hi > lo else np.zeros_like(cells)


def render_overlay(image: bytes | Image.Image, grid: ImageGrid, values: np.ndarray, *, opacity: float = 0.5,
                   cmap: str = "inferno", max_side: int | None = None) -> Image.Image:
    """The image with the attention map blended over it (same size as the original, or scaled
    down so its longer side is at most `max_side`)."""
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity}")
    base = to_image(image)
    if (base.width, base.height) != (grid.image_width, grid.image_height):
        raise ValueError(f"the image is {base.width}x{base.height} px but the probe saw "
                         f"{grid.image_width}x{grid.image_height}")
    if max_side and max(base.size) > max_side:
        s = max_side / max(base.size)
        base = base.resize((max(1, round(base.width * s)), max(1, round(base.height * s))), Image.Resampling.BILINEAR)
    lut = colormap(cmap)
    idx = np.rint(normalise(cell_values(grid, values)) * 255).astype(np.uint8)
    heat = Image.fromarray(lut[idx], "RGB").resize(base.size, Image.Resampling.NEAREST)
    return Image.blend(base, heat, opacity)


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _json_for_script(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survive literally."""
    return (json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def token_hover_html(image: bytes | Image.Image, grid: ImageGrid, token_texts: Sequence[str],
                     token_maps: np.ndarray, *, first_token: int = 0, opacity: float = 0.5,
                     cmap: str = "inferno", max_side: int = 420) -> str:
    """Self-contained HTML: the image, and the tokens; hovering a token paints its map.

    token_maps: (n_tokens, n_image_tokens) uint8 or float, one row per token in token_texts.
    """
    base = to_image(image)
    s = min(1.0, max_side / max(base.size))
    shown = base.resize((max(1, round(base.width * s)), max(1, round(base.height * s))), Image.Resampling.BILINEAR)
    rows = []
    for k in range(len(token_texts)):
        cells = normalise(cell_values(grid, token_maps[k]))
        rows.append(np.rint(cells * 255).astype(int).ravel().tolist())
    lut = colormap(cmap).tolist()
    payload = {"rows": grid.rows, "cols": grid.cols, "maps": rows, "texts": list(token_texts),
               "first": first_token, "lut": lut, "opacity": opacity}
    img64 = base64.b64encode(png_bytes(shown)).decode()
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
body{{font-family:sans-serif;margin:0;font-size:14px;color:#202124}}
#wrap{{display:flex;gap:12px;align-items:flex-start}}
#pic{{position:relative;flex:none}} #pic img,#pic canvas{{display:block;width:{shown.width}px;height:{shown.height}px}}
#pic canvas{{position:absolute;left:0;top:0}}
#toks{{line-height:1.7;max-height:{max(shown.height, 200)}px;overflow:auto;white-space:pre-wrap;flex:1}}
#toks span{{border-radius:3px;cursor:default}}
#toks span:hover,#toks span.on{{background:#fde293;outline:1px solid #f9ab00}}
#cap{{color:#5f6368;font-size:12px;margin-top:4px}}
</style></head><body><div id="wrap"><div id="pic"><img alt="image" src="data:image/png;base64,{img64}">
<canvas id="heat" width="{grid.cols}" height="{grid.rows}"></canvas><div id="cap">hover a token</div></div>
<div id="toks"></div></div>
<script type="application/json" id="data">{_json_for_script(payload)}</script>
<script>
const D = JSON.parse(document.getElementById('data').textContent);
const cv = document.getElementById('heat'), cx = cv.getContext('2d');
cv.style.imageRendering = 'pixelated';
const img = cx.createImageData(D.cols, D.rows);
function paint(k) {{
  const m = D.maps[k];
  for (let i = 0; i < m.length; i++) {{
    const c = D.lut[m[i]];
    img.data[4*i] = c[0]; img.data[4*i+1] = c[1]; img.data[4*i+2] = c[2]; img.data[4*i+3] = Math.round(255*D.opacity);
  }}
  cx.putImageData(img, 0, 0);
  document.getElementById('cap').textContent = 'token ' + (D.first + k) + ': ' + JSON.stringify(D.texts[k]);
}}
const box = document.getElementById('toks');
D.texts.forEach((t, k) => {{
  const s = document.createElement('span'); s.textContent = t; s.dataset.k = k;
  s.addEventListener('mouseenter', () => {{ box.querySelectorAll('.on').forEach(e => e.classList.remove('on'));
    s.classList.add('on'); paint(k); }});
  box.appendChild(s);
}});
if (D.texts.length) paint(0);
</script></body></html>"""
