"""Probe memory and speed: attention hooks vs eager full attentions, and what QVQ-72B would need.

    .venv/bin/python bench/probe.py [--tokens 1024,4096] [--dtype bfloat16] [--skip-eager-above N]

1. A tiny Qwen2-VL with 16 decoder layers and 16 heads (hidden 256, 4 KV heads), built in code.
   For each sequence length T (prompt with a 224x224 image = 64 image tokens, plus trace tokens
   up to T in all), in a fresh process each:
   - eager: `attn_implementation="eager"`, one forward with `output_attentions=True` (every
     layer's heads x T x T matrix returned: what other tools do);
   - hooks: `attn_implementation="sdpa"`, `workbench.probe.forward.probe_arrays` capturing all 16
     layers (image columns only, query chunks of 256), visual-dependence pass switched off so
     both do one forward.
   Peak memory = the process's peak resident set (VmHWM, reset just before the pass) minus its
   resident set before the pass (model, inputs and libraries loaded). Target (issue 6): hooks
   use at least 5x less than eager at 4k tokens.
2. The per-token map file of an 8k-token trace (tiny model, 64 image tokens; and its size
   scaled to 1,024 image tokens, a typical QVQ image) and the probe's time per trace.
3. Expected memory of probing QVQ-72B (80 layers, 64 heads, head_dim 128, bf16) per trace
   length, computed from the shapes (no GPU here to measure it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r'''
import gc, json, sys, time
import numpy as np, torch
from PIL import Image
sys.path.insert(0, {root!r})
from workbench.models.loader import load_model
from workbench.probe.forward import prompt_inputs, probe_arrays

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
mode, model, T, dtype = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lm = load_model(model, dtype=dtype, attn_implementation="eager" if mode == "eager" else "sdpa")
img = Image.new("RGB", (224, 224), (200, 80, 40))
probe_len = prompt_inputs(lm, "How many circles?", [img], None, [1])[1]
ids = (np.arange(T - probe_len) % 200 + 20).tolist()
inputs, _ = prompt_inputs(lm, "How many circles?", [img], None, ids)
torch.set_grad_enabled(False)
gc.collect()
base = rss("VmRSS")
open("/proc/self/clear_refs", "w").write("5")   # reset the peak resident set (VmHWM)
t = time.perf_counter()
if mode == "eager":
    out = lm.model(**inputs, output_attentions=True, use_cache=False)
    kept = sum(a.numel() * a.element_size() for a in out.attentions)
else:
    arr = probe_arrays(lm, "How many circles?", [img], ids, layers=list(range(16)), dependence="none")
    kept = arr.attn_mean.nbytes
secs = time.perf_counter() - t
print(json.dumps({{"peak": rss("VmHWM") - base, "kept": kept, "seconds": secs,
                  "T": int(inputs["input_ids"].shape[1])}}))
'''


def measure(mode: str, model: Path, T: int, dtype: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(model), str(T), dtype],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def file_size(model: Path, tmp: Path) -> dict:
    """Probe an 8k-token trace end to end (both passes) and report the map file."""
    import numpy as np
    from PIL import Image

    from workbench.models.loader import load_model
    from workbench.probe import maps
    from workbench.probe.forward import probe_arrays
    from workbench.probe.run import summarise
    lm = load_model(model, dtype="float32")
    ids = (np.arange(8192) % 200 + 20).tolist()
    import time
    t = time.perf_counter()
    arr = probe_arrays(lm, "How many circles?", [Image.new("RGB", (224, 224), (200, 80, 40))], ids,
                       layers=[0, 5, 10, 15])
    secs = time.perf_counter() - t
    spans = np.stack([np.arange(8192), np.arange(8192) + 1], 1).astype(np.int32)
    steps = [{"step_index": i, "char_start": i * 82, "char_end": (i + 1) * 82} for i in range(100)]
    res = summarise(arr, steps, spans)
    size = maps.write(tmp / "t.npz", res["file"])
    return {"bytes": size, "seconds": secs, "n_image": int(arr.attn_mean.shape[2])}


def qvq_table(lengths: list[int], n_image: int = 1024, probed_layers: int = 8, chunk: int = 256) -> list[str]:
    layers, heads, hd, hidden, vocab = 80, 64, 128, 8192, 152064
    weights = 73.0e9 * 2
    rows = ["| trace tokens T | eager output_attentions (all layers) | hooks: transient per hooked layer | "
            "hooks: kept results (CPU) | activations per GPU (no KV cache) | lm_head chunk |",
            "|---|---|---|---|---|---|"]
    for T in lengths:
        eager = layers * heads * T * T * 2                     # bf16 attention weights kept for every layer
        transient = heads * chunk * T * 4 * 3 + T * (hd * (heads + 8)) * 4    # fp32 scores+softmax+gather, q/k
        kept = probed_layers * T * n_image * 4
        acts = T * hidden * 2 * 6 + T * 29568 * 2 * 2          # residual, normed, q/k/v/o, MLP up/gate
        head = 512 * vocab * 4 * 2
        gb = lambda b: f"{b / 2**30:,.1f} GiB"                 # noqa: E731
        rows.append(f"| {T:,} | {gb(eager)} | {gb(transient)} | {gb(kept)} | {gb(acts)} | {gb(head)} |")
    rows.append(f"Weights: {weights / 2**30:,.0f} GiB in bf16 over the GPUs (e.g. 4x80 GiB); "
                f"{probed_layers} probed layers, {n_image} image tokens, chunks of {chunk} queries.")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", default="1024,4096")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--skip-eager-above", type=int, default=8192)
    args = ap.parse_args()
    from workbench.models.tiny import build_tiny_model
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        model = build_tiny_model(tmp / "tiny16", layers=16, heads=16, kv_heads=4, hidden=256)
        print(f"tiny Qwen2-VL: 16 layers, 16 heads (4 KV), hidden 256, {args.dtype}; 64 image tokens\n")
        print("| T (tokens) | eager output_attentions peak | hooks peak | ratio | eager kept | hooks kept | "
              "eager s | hooks s |")
        print("|---|---|---|---|---|---|---|---|")
        for T in [int(x) for x in args.tokens.split(",")]:
            h = measure("hooks", model, T, args.dtype)
            e = measure("eager", model, T, args.dtype) if args.skip_eager_above >= T else {"error": "skipped"}
            mb = lambda b: f"{b / 1e6:,.0f} MB"             # noqa: E731
            if "error" in h or "error" in e:
                print(f"| {T:,} | {e.get('error') or mb(e['peak'])} | {h.get('error') or mb(h['peak'])} | | | | | |")
                continue
            print(f"| {h['T']:,} | {mb(e['peak'])} | {mb(h['peak'])} | {e['peak'] / max(h['peak'], 1):.1f}x | "
                  f"{mb(e['kept'])} | {mb(h['kept'])} | {e['seconds']:.1f} | {h['seconds']:.1f} |")
        f = file_size(model, tmp)
        print(f"\n8,192-token trace, both passes, 4 layers: {f['seconds']:.1f} s on this CPU; map file "
              f"{f['bytes'] / 1e6:.2f} MB for {f['n_image']} image tokens (uint8 token maps, compressed; "
              f"~{f['bytes'] / f['n_image'] * 1024 / 1e6:.0f} MB scaled to 1,024 image tokens)")
        print("\nQVQ-72B (computed from the shapes, bf16):")
        for line in qvq_table([1024, 4096, 8192, 16384]):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
