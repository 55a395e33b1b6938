"""Batched transformers generation (continuous batching) against batch 1 and against transformers'
own `generate`, on the tiny Qwen2-VL built with a decisive output layer (every decoding step's
greedy choice leads the runner-up by a clear margin, checked here, so rounding differences from
padding cannot flip a token; the comparison itself is not loosened)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("run_tiny")]


@pytest.fixture(scope="module")
def decisive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from workbench.models.tiny import build_tiny_model
    return build_tiny_model(tmp_path_factory.mktemp("decisive") / "m", decisive=True)


def png(w: int, h: int, color: tuple[int, int, int]) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def requests(**sampling: object) -> list:
    """Different prompt lengths, 0, 1 or 2 images of different sizes, different max_new_tokens."""
    from workbench.models.backends.base import GenerationRequest, Sampling
    out = []
    for i in range(7):
        images = [] if i % 3 == 0 else [png(56 + 24 * i, 56 + 12 * i, (35 * i, 90, 160))]
        if i == 4:
            images.append(png(70, 40, (200, 30, 30)))
        question = f"Question {i}: how many triangles are in the figure? " * (1 + i % 3)
        s = {"max_new_tokens": 24 + 9 * i, "repetition_penalty": 1.05, "top_alternatives": 2, **sampling}
        out.append(GenerationRequest(f"s{i}", question, images, "Think step by step." if i % 2 else None,
                                     Sampling(**s)))
    return out


def generate_all(backend, reqs) -> dict:
    for r in reqs:
        backend.submit(r)
    results = {}
    while backend.in_flight():
        for ev in backend.step():
            assert ev.kind != "failed", ev.error
            if ev.kind == "done":
                results[ev.sample_id] = ev.result
    return results


def test_greedy_batch_of_4_is_token_identical_to_batch_1_and_to_transformers_generate(decisive: Path) -> None:
    import torch
    from transformers import GenerationConfig

    from workbench.models.backends.transformers_backend import TransformersBackend
    one = TransformersBackend(str(decisive), dtype="float32", batch_size=1)
    four = TransformersBackend(str(decisive), dtype="float32", batch_size=4)
    reqs = requests()
    r1, r4 = generate_all(one, reqs), generate_all(four, reqs)
    assert sorted(r1) == sorted(r4) == [r.sample_id for r in reqs]
    # precondition: every decoding step after the first (the first comes from the unpadded prefill,
    # identical at any batch size) leads the runner-up by >= 1 nat, ~10^6 times float32 rounding
    gaps = [t.top_alternatives[0][1] - t.top_alternatives[1][1] for res in r1.values() for t in res.tokens[1:]]
    assert min(gaps) > 1.0, min(gaps)
    for sid, a in r1.items():
        b = r4[sid]
        assert [t.token_id for t in a.tokens] == [t.token_id for t in b.tokens], sid
        assert a.response == b.response and a.finish_reason == b.finish_reason and a.prompt_tokens == b.prompt_tokens
        assert max(abs(x.logprob - y.logprob) for x, y in zip(a.tokens, b.tokens)) < 1e-4
        assert max(abs(x.entropy - y.entropy) for x, y in zip(a.tokens, b.tokens)) < 1e-4
        assert [[alt[0] for alt in t.top_alternatives] for t in a.tokens] == \
               [[alt[0] for alt in t.top_alternatives] for t in b.tokens]
    # per-sequence stopping: some stop at eos, some at their own max_new_tokens, all at different lengths
    finishes = {sid: (r.finish_reason, r.completion_tokens) for sid, r in r1.items()}
    assert {"eos", "length"} <= {f for f, _ in finishes.values()}, finishes
    for r in reqs:
        f, n = finishes[r.sample_id]
        assert (f == "length") == (n == r.sampling.max_new_tokens) and n <= r.sampling.max_new_tokens
    assert len({r.response for r in r1.values()}) >= 3, "the prompts and images should lead to different traces"
    # batch 1 of the decoder is transformers' own greedy generate (with its repetition penalty)
    model, eos = one.lm.model, sorted(one.eos_ids())
    for r in reqs[:4]:
        inputs = one._inputs(r)
        gc = GenerationConfig(max_new_tokens=r.sampling.max_new_tokens, do_sample=False, repetition_penalty=1.05,
                              eos_token_id=eos, pad_token_id=one.lm.tokenizer.pad_token_id,
                              suppress_tokens=model.generation_config.suppress_tokens,
                              output_scores=True, return_dict_in_generate=True)
        with torch.inference_mode():
            out = model.generate(**inputs, generation_config=gc)
        ids = out.sequences[0, inputs["input_ids"].shape[1]:].tolist()
        assert ids == [t.token_id for t in r1[r.sample_id].tokens], r.sample_id
        ref = [torch.log_softmax(s[0].float(), -1)[t].item() for s, t in zip(out.scores, ids)]
        assert max(abs(x - t.logprob) for x, t in zip(ref, r1[r.sample_id].tokens)) < 1e-4


def test_seeded_sampling_does_not_depend_on_the_batch(decisive: Path) -> None:
    from workbench.models.backends.transformers_backend import TransformersBackend
    reqs = requests(temperature=0.9, seed=11, repetition_penalty=None)
    r1 = generate_all(TransformersBackend(str(decisive), dtype="float32", batch_size=1), reqs)
    r3 = generate_all(TransformersBackend(str(decisive), dtype="float32", batch_size=3), reqs)
    for sid in r1:
        assert [t.token_id for t in r1[sid].tokens] == [t.token_id for t in r3[sid].tokens], sid


def test_a_finished_sample_is_reported_at_once_and_its_slot_refilled(tmp_path: Path) -> None:
    from workbench.models.backends.base import GenerationRequest, Sampling
    from workbench.models.backends.transformers_backend import TransformersBackend
    from workbench.models.tiny import build_tiny_model
    b = TransformersBackend(str(build_tiny_model(tmp_path / "m")), dtype="float32", batch_size=2)
    b.decoder.eos_ids = set()   # lengths decide here: each stops at its own max_new_tokens
    for sid, n in (("short", 3), ("long", 40), ("next", 5)):
        b.submit(GenerationRequest(sid, f"{sid}: what is shown?", [png(60, 60, (10, 200, 10))], None,
                                   Sampling(max_new_tokens=n)))
    done_at: dict[str, int] = {}
    rows_after: list[list[str]] = []
    while b.in_flight():
        for ev in b.step():
            if ev.kind == "done":
                done_at[ev.sample_id] = len(rows_after)
                assert ev.result.completion_tokens == {"short": 3, "long": 40, "next": 5}[ev.sample_id]
        rows_after.append([r.request.sample_id for r in b.decoder.rows])
    # step 0: both prefilled + one decoding step = 2 tokens each; step 1: "short" has 3 and leaves at once
    assert done_at["short"] == 1 and rows_after[1] == ["long"]
    # the queued request takes the free slot in the next step and decodes alongside "long"
    assert rows_after[2] == ["long", "next"]
    assert done_at["next"] == 5 < done_at["long"] == 38
