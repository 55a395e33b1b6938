"""Generation speed on the tiny Qwen2-VL (CPU): batched throughput and the cost of recording.

    .venv/bin/python bench/run.py [--tokens 128] [--samples 16] [--repeats 3] [--threads 1]
                                  [--layers 2 --hidden 64 --heads 4]

Prints
- generated tokens/s of the transformers backend's engine at batch 1, 4, 8 and 16 (16 samples of
  `--tokens` new tokens each, every sample with its own image; eos disabled so every sample
  generates the same number of tokens), and batch 8 over batch 1 (target >= 3x);
- the same at batch 8 end to end through `run_model` into a fresh store (one writer thread,
  every finished sample committed with its tokens);
- the recording overhead: the workbench's generation of one sample (token ids, logprobs,
  entropies, token texts/spans) against a plain transformers `generate` of the same prompt and
  the same number of tokens (greedy), median of `--repeats` interleaved runs (target < 1.15x).
The tiny model's forward pass is tiny, so per-step overheads weigh as much as they ever will:
a worst case for the ratio, and the batching gain comes from amortising them. Measured on a
shared CPU: figures move with the machine's load.
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


def png(i: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (56 + 8 * i, 56), (20 * i % 256, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    a = ap.parse_args()
    import torch

    from workbench.models.backends.base import GenerationRequest, Sampling
    from workbench.models.backends.transformers_backend import TransformersBackend
    from workbench.models.tiny import build_tiny_model
    torch.set_num_threads(a.threads)
    n = a.tokens
    with tempfile.TemporaryDirectory() as tmp:
        path = str(build_tiny_model(Path(tmp) / "m", layers=a.layers, hidden=a.hidden, heads=a.heads,
                                    kv_heads=max(1, a.heads // 2)))

        def backend(batch: int) -> TransformersBackend:
            b = TransformersBackend(path, dtype="float32", batch_size=batch)
            b.decoder.eos_ids = set()   # every sample generates exactly n tokens
            return b

        reqs = [GenerationRequest(f"s{i}", f"How many triangles are in picture {i}?", [png(i)], "Think step-by-step.",
                                  Sampling(max_new_tokens=n)) for i in range(a.samples)]
        params = sum(p.numel() for p in backend(1).lm.model.parameters())
        print(f"tiny Qwen2-VL {a.layers} layers, hidden {a.hidden}, {params / 1e6:.2f} M params; {a.samples} samples "
              f"x {n} new tokens; {a.threads} CPU thread(s); median of {a.repeats}")

        # ---- engine throughput by batch size
        rates = {}
        for batch in (1, 4, 8, 16):
            b = backend(batch)
            runs = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                for r in reqs:
                    b.submit(r)
                toks = 0
                while b.in_flight():
                    toks += sum(ev.result.completion_tokens for ev in b.step() if ev.kind == "done")
                assert toks == n * a.samples
                runs.append(toks / (time.perf_counter() - t))
            rates[batch] = statistics.median(runs)
            print(f"batch {batch:2d}: {rates[batch]:7.0f} generated tokens/s ({rates[batch] / rates[1]:.2f}x batch 1)")
        print(f"batch 8 / batch 1: {rates[8] / rates[1]:.2f}x (target >= 3x)")

        # ---- end to end into a store at batch 8
        from workbench.models.runner import RunOptions, run_model
        from workbench.models.testdata import write_questions
        data = write_questions(Path(tmp) / "data", a.samples)
        e2e = []
        for k in range(a.repeats):
            b = backend(8)
            t = time.perf_counter()
            s = run_model(RunOptions(model=path, data=str(data), db=str(Path(tmp) / f"s{k}.duckdb"), batch_size=8,
                                     sampling=Sampling(max_new_tokens=n)), backend=b, log=lambda m: None)
            assert s.done == a.samples and s.tokens == n * a.samples
            e2e.append((s.tokens / s.seconds, s.tokens / (time.perf_counter() - t)))
        gen, wall = statistics.median(x for x, _ in e2e), statistics.median(y for _, y in e2e)
        print(f"run_model at batch 8 into a store: {gen:.0f} tokens/s while generating ({gen / rates[8]:.2f}x the "
              f"engine alone), {wall:.0f} tokens/s including run set-up and the last commits")

        # ---- recording overhead at batch 1
        b = backend(1)
        req = GenerationRequest("o", "How many sides does the shape have?", [png(3)], "Think step-by-step.",
                                Sampling(max_new_tokens=n))
        inputs = b._inputs(req)
        model = b.lm.model

        def plain() -> None:
            with torch.inference_mode():
                model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)

        def recorded() -> None:
            res = b.generate(req)
            assert res.completion_tokens == n and res.tokens[-1].entropy is not None

        plain(), recorded()   # warm-up
        tp, tr = [], []
        for _ in range(max(a.repeats, 5)):   # interleaved so drift hits both equally
            t = time.perf_counter(); plain(); tp.append(time.perf_counter() - t)  # noqa: E702
            t = time.perf_counter(); recorded(); tr.append(time.perf_counter() - t)  # noqa: E702
        mp, mr = statistics.median(tp), statistics.median(tr)
        print(f"plain generate:     {mp:.3f} s  ({n / mp:.0f} tokens/s)")
        print(f"recorded generate:  {mr:.3f} s  ({n / mr:.0f} tokens/s)")
        print(f"recording overhead: {mr / mp:.3f}x (target < 1.15x)")


if __name__ == "__main__":
    main()
