"""The tiny Qwen2-VL loads through the real loading path and generates with an image."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.models


def test_tiny_model_builds_loads_and_generates(tmp_path: Path) -> None:
    from PIL import Image

    from workbench.cli import main
    from workbench.models.loader import load_model
    out = tmp_path / "tiny"
    assert main(["tiny-model", "--out", str(out)]) == 0
    for name in ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"):
        assert (out / name).exists(), name
    lm = load_model(out, dtype="float32")
    assert lm.model.config.model_type == "qwen2_vl" and lm.device == "cpu"
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many?"}]}]
    text = lm.processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert "<|vision_start|><|image_pad|><|vision_end|>" in text
    inp = lm.processor(text=[text], images=[Image.new("RGB", (90, 70), "red")], return_tensors="pt")
    n_img = int((inp["input_ids"] == lm.model.config.image_token_id).sum())
    assert n_img == int(inp["image_grid_thw"].prod()) // 4 > 0
    gen = lm.model.generate(**inp, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] == inp["input_ids"].shape[1] + 5 or lm.tokenizer.eos_token_id in gen[0].tolist()


def test_tiny_model_flexible_shape(tmp_path: Path) -> None:
    from workbench.models.loader import load_model
    from workbench.models.tiny import build_tiny_model
    out = build_tiny_model(tmp_path / "t16", layers=3, heads=16, kv_heads=4, hidden=256)
    lm = load_model(out, dtype="float32")
    tc = lm.model.config.text_config
    assert (tc.num_hidden_layers, tc.num_attention_heads, tc.num_key_value_heads) == (3, 16, 4)


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    from workbench.errors import WorkbenchError
    from workbench.models.loader import load_model
    with pytest.raises(WorkbenchError, match=r"does not exist|no config.json"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkbenchError, match=r"no config.json"):
        load_model(tmp_path / "empty")


def test_sampling_is_seeded_and_text_only_prompts_work(tmp_path: Path) -> None:
    from workbench.models.backends.base import GenerationRequest, Sampling
    from workbench.models.backends.transformers_backend import TransformersBackend
    from workbench.models.tiny import build_tiny_model
    b = TransformersBackend(str(build_tiny_model(tmp_path / "m")), dtype="float32")
    gen = lambda seed: b.generate(GenerationRequest("s", "Hi?", [], None, Sampling(  # noqa: E731
        max_new_tokens=15, temperature=0.9, seed=seed)))
    a, again, other = gen(7), gen(7), gen(8)
    assert [t.token_id for t in a.tokens] == [t.token_id for t in again.tokens]
    assert [t.token_id for t in a.tokens] != [t.token_id for t in other.tokens]
    assert a.prompt_tokens and all(t.logprob <= 0 for t in a.tokens)


def test_token_texts_keep_multibyte_characters_whole(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from workbench.models.backends.transformers_backend import build_records
    from workbench.models.tiny import build_tiny_model
    tok = AutoTokenizer.from_pretrained(str(build_tiny_model(tmp_path / "m")))
    text = "Wait, 让我们再想一想 émoji 🙂 so x = 42"
    ids = [*tok.encode(text, add_special_tokens=False), tok.convert_tokens_to_ids("<|im_end|>")]
    response, recs = build_records(tok, ids, [0.0] * len(ids), [1.0] * len(ids))
    assert response == text and "\ufffd" not in "".join(r.text for r in recs[:-1])
    assert all(response[r.char_start:r.char_end] == r.text for r in recs[:-1])
    assert recs[-1].char_start == recs[-1].char_end == len(text)   # eos: empty span at the end
