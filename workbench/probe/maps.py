"""Compact per-token probe files (numpy .npz, no torch): written by the probe, read by the views.

One file per probed trace under the `probe_dir` setting, referenced from `probe_traces.maps_path`
(relative to probe_dir). Contents:

- `token_maps` uint8 (n_tokens, n_image_tokens): each generated token's attention over the image
  tokens, averaged over heads and the probed layers, scaled so the token's largest cell is 255;
  `token_scale` float32 (n_tokens,) gives that largest value back (value = map / 255 * scale).
- `token_share` float16 (n_layers, n_tokens): share of attention on image tokens, per layer.
- `token_share_max` float16 (n_layers, n_tokens): the largest share among the heads (optional).
- `logprob_image`, `logprob_no_image` float32 (n_tokens,): teacher-forced log-probabilities
  with and without the image (visual dependence = their difference; NaN when not computed).
- `token_spans` int32 (n_tokens, 2): each token's characters in `samples.response`.
- `step_tokens` int32 (n_steps, 2): [token_start, token_end) of each step.
- `step_maps` float16 (n_steps, n_layers, n_image_tokens): attention maps pooled (token mean)
  per step and per layer, head mean; `step_maps_max` the same with the max over heads (optional).
- `meta`: JSON string (layers, grids, model, probe version, and `layout`: the version of this file
  layout, LAYOUT_VERSION; files written before the field existed are layout 1).
Written to a temporary name and renamed, so a crash never leaves a half-written file in place.
Compressed: an 8k-token trace over 1,000 image tokens takes a few MB.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.probe.grid import ImageGrid


@dataclass
class ProbeFile:
    token_maps: np.ndarray
    token_scale: np.ndarray
    token_share: np.ndarray
    logprob_image: np.ndarray
    logprob_no_image: np.ndarray
    token_spans: np.ndarray
    step_tokens: np.ndarray
    step_maps: np.ndarray
    step_maps_max: np.ndarray | None
    meta: dict[str, Any]
    token_share_max: np.ndarray | None = None

    @property
    def layers(self) -> list[int]:
        return list(self.meta["layers"])

    @property
    def grids(self) -> list[ImageGrid]:
        return [ImageGrid(**g) for g in self.meta["grids"]]

    def token_map(self, start: int, end: int | None = None) -> np.ndarray:
        """Mean attention map (over all probed layers, head mean) of tokens [start, end)."""
        end = start + 1 if end is None else end
        if not 0 <= start < end <= len(self.token_scale):
            raise IndexError(f"token range {start}..{end} outside 0..{len(self.token_scale)}")
        m = self.token_maps[start:end].astype(np.float32) / 255.0 * self.token_scale[start:end, None]
        return m.mean(axis=0)

    def step_map(self, step: int, layers: list[int] | None = None, heads: str = "mean") -> np.ndarray:
        """A step's pooled map, averaged over the chosen probed layers; heads 'mean' or 'max'."""
        arr = self.step_maps if heads == "mean" else self.step_maps_max
        if arr is None:
            raise ValueError("this probe did not keep the max over heads (run `workbench probe --head-max`)")
        idx = [self.layers.index(li) for li in (layers or self.layers) if li in self.layers]
        if not idx:
            raise ValueError(f"none of layers {layers} was probed (probed: {self.layers})")
        return arr[step, idx].astype(np.float32).mean(axis=0)


def quantize_rows(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row uint8 quantisation: (rows scaled to 0..255, each row's max)."""
    scale = m.max(axis=1).astype(np.float32) if m.size else np.zeros(len(m), np.float32)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.rint(m / safe[:, None] * 255.0).clip(0, 255).astype(np.uint8)
    return q, scale


def file_name(run_id: str, sample_id: str) -> str:
    import hashlib
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id)[:60]
    h = hashlib.sha1(f"{run_id}\0{sample_id}".encode()).hexdigest()[:10]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', run_id)}/{stem}-{h}.npz"


LAYOUT_VERSION = 1   # bump when the arrays or their meaning change; `read` refuses newer layouts


def write(path: Path, pf: ProbeFile) -> int:
    """Write atomically; returns the file size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(pf, k) for k in ("token_maps", "token_scale", "token_share", "logprob_image",
                                          "logprob_no_image", "token_spans", "step_tokens", "step_maps")}
    for opt in ("step_maps_max", "token_share_max"):
        if getattr(pf, opt) is not None:
            arrays[opt] = getattr(pf, opt)
    arrays["meta"] = np.frombuffer(json.dumps({**pf.meta, "layout": LAYOUT_VERSION}).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return len(buf.getvalue())


def read(path: Path) -> ProbeFile:
    from workbench.errors import WorkbenchError
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise WorkbenchError(f"probe file {path} is missing: re-run `workbench probe` for this run") from None
    except Exception as exc:  # zip/npy errors vary
        raise WorkbenchError(f"probe file {path} cannot be read ({exc}): re-run `workbench probe --force`") from exc
    meta = json.loads(bytes(data.pop("meta")).decode())
    layout = int(meta.setdefault("layout", 1))
    if layout > LAYOUT_VERSION:
        raise WorkbenchError(f"probe file {path} has layout {layout}, newer than this version reads "
                             f"({LAYOUT_VERSION}): open it with the version that wrote it, or re-run "
                             "`workbench probe --force`")
    return ProbeFile(step_maps_max=data.pop("step_maps_max", None), token_share_max=data.pop("token_share_max", None),
                     meta=meta, **data)
