"""Generation overhead of the recording (token ids, logprobs, entropies, token texts/spans) vs a
plain `generate` on the tiny Qwen2-VL, same prompt+image, same number of tokens (greedy).

    .venv/bin/python bench/run.py [--tokens 256] [--repeats 5] [--layers 2 --hidden 64 --heads 4]

Prints the median seconds of each and the ratio (target < 1.15x). CPU only; the tiny model's
forward pass is tiny, so this is a worst case for the relative overhead.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    a = ap.parse_args()
    import torch
    from PIL import Image
    from transformers import LogitsProcessorList
    from workbench.models.backends.base import GenerationRequest, Sampling
    from workbench.models.backends.transformers_backend import TransformersBackend, _recorder_class, build_records
    from workbench.models.tiny import build_tiny_model
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(Path(tmp) / "m", layers=a.layers, hidden=a.hidden, heads=a.heads,
                                kv_heads=max(1, a.heads // 2))
        b = TransformersBackend(str(path), dtype="float32")
        buf = io.BytesIO()
        Image.new("RGB", (224, 224), "orange").save(buf, "PNG")
        req = GenerationRequest("b", "How many sides does the shape have?", [buf.getvalue()], "Think step-by-step.",
                                Sampling(max_new_tokens=a.tokens))
        inputs = b._inputs(req)
        model, tok = b.lm.model, b.lm.tokenizer
        n = a.tokens
        common = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False)

        def plain() -> None:
            with torch.inference_mode():
                model.generate(**inputs, **common)

        def recorded() -> None:
            rec = _recorder_class()(req.sampling, b.lm.device, inputs["input_ids"].shape[1])
            with torch.inference_mode():
                seqs = model.generate(**inputs, **common, logits_processor=LogitsProcessorList([rec]))
            ids = seqs[0, inputs["input_ids"].shape[1]:].tolist()
            rec.take_last(rec.prev_logp, seqs[0, -1])
            build_records(tok, ids, torch.cat(rec.logprobs).tolist(), torch.cat(rec.entropies).tolist())

        plain(), recorded()   # warm-up
        tp, tr = [], []
        for _ in range(a.repeats):   # interleaved so drift hits both equally
            t = time.perf_counter(); plain(); tp.append(time.perf_counter() - t)
            t = time.perf_counter(); recorded(); tr.append(time.perf_counter() - t)
        mp, mr = statistics.median(tp), statistics.median(tr)
        params = sum(p.numel() for p in model.parameters())
        print(f"tiny Qwen2-VL {a.layers} layers, hidden {a.hidden}, {params / 1e6:.2f} M params, vocab {len(tok)}; "
              f"{n} new tokens, {a.repeats} repeats (median)")
        print(f"plain generate:     {mp:.3f} s  ({n / mp:.0f} tokens/s)")
        print(f"recorded generate:  {mr:.3f} s  ({n / mr:.0f} tokens/s)")
        print(f"overhead ratio:     {mr / mp:.3f}x (target < 1.15x)")


if __name__ == "__main__":
    main()
