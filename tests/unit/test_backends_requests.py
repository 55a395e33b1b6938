"""Request building of the vllm and openai backends, without vLLM or a server."""

from __future__ import annotations

import base64
import importlib.util
import io
from types import SimpleNamespace

import pytest

from workbench.models.backends.base import GenerationRequest, Sampling


def png() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(buf, "PNG")
    return buf.getvalue()


def test_vllm_request_building_without_vllm() -> None:
    from workbench.models.backends.vllm_backend import build_vllm_request, sampling_kwargs
    req = GenerationRequest("s1", "How many?", [png()], "Think step-by-step.",
                            Sampling(max_new_tokens=8192, temperature=0.01, top_k=1, repetition_penalty=1.05,
                                     top_alternatives=5, seed=3))
    built = build_vllm_request(req)
    assert built["prompt"] == ("<|im_start|>system\nThink step-by-step.<|im_end|>\n<|im_start|>user\n"
                               "<|vision_start|><|image_pad|><|vision_end|>How many?<|im_end|>\n"
                               "<|im_start|>assistant\n")
    assert built["multi_modal_data"]["image"].size == (30, 20)
    kw = sampling_kwargs(req.sampling)
    assert kw == {"max_tokens": 8192, "temperature": 0.0, "logprobs": 5, "seed": 3, "repetition_penalty": 1.05}
    kw = sampling_kwargs(Sampling(max_new_tokens=10, temperature=0.7, top_p=0.9))
    assert kw["temperature"] == 0.7 and kw["top_p"] == 0.9 and "top_k" not in kw and kw["logprobs"] == 1
    assert sampling_kwargs(Sampling(max_new_tokens=10, temperature=0.7, top_k=20))["top_k"] == 20


def test_vllm_corrupt_image_is_an_input_error() -> None:
    from workbench.errors import InputError
    from workbench.models.backends.vllm_backend import build_vllm_request
    with pytest.raises(InputError, match=r"sample 's9'.*image 1 cannot be decoded"):
        build_vllm_request(GenerationRequest("s9", "q", [b"junk"]))


def test_vllm_output_parsing_gives_the_common_records() -> None:
    from workbench.models.backends.vllm_backend import parse_vllm_output
    lp = lambda tok, v: SimpleNamespace(decoded_token=tok, logprob=v)  # noqa: E731
    comp = SimpleNamespace(token_ids=[5, 6, 2], text="Hi there", finish_reason="stop",
                           logprobs=[{5: lp("Hi", -0.1), 9: lp("Yo", -2.5)}, {6: lp(" there", -0.3)},
                                     {2: lp("<|im_end|>", -0.01)}])
    out = SimpleNamespace(outputs=[comp], prompt_token_ids=[1] * 40, finished=True)
    text, toks, finish, prompt, n = parse_vllm_output(out, special_ids={2}, top_alternatives=2)
    assert (text, finish, prompt, n) == ("Hi there", "eos", 40, 3)
    assert [(t.text, t.char_start, t.char_end) for t in toks] == [("Hi", 0, 2), (" there", 2, 8), ("<|im_end|>", 8, 8)]
    assert toks[0].top_alternatives == [("Hi", -0.1), ("Yo", -2.5)] and toks[1].logprob == -0.3


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_backend_absent_gives_a_clear_message() -> None:
    from workbench.errors import WorkbenchError
    from workbench.models.backends import make_backend
    with pytest.raises(WorkbenchError, match="needs vLLM, which is not installed"):
        make_backend("vllm", "Qwen/QVQ-72B-Preview")


def test_openai_request_and_response_shapes() -> None:
    from workbench.models.backends.openai_backend import build_chat_request, parse_chat_response
    body = build_chat_request("qvq", GenerationRequest("s", "Q?", [png()], "sys", Sampling(max_new_tokens=7,
                                                                                            top_alternatives=3)))
    url = body["messages"][1]["content"][0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",")[1]) == png()
    assert body["logprobs"] is True and body["top_logprobs"] == 3 and body["max_tokens"] == 7
    assert "logprobs" not in build_chat_request("qvq", GenerationRequest("s", "Q?"), logprobs=False)
    text, toks, finish, p, n = parse_chat_response({"choices": [{
        "message": {"content": "ab"}, "finish_reason": "length",
        "logprobs": {"content": [{"token": "a", "logprob": -1.0, "top_logprobs": []},
                                 {"token": "b", "logprob": -0.5, "top_logprobs": []}]}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2}})
    assert (text, finish, p, n) == ("ab", "length", 9, 2) and [t.char_end for t in toks] == [1, 2]


def test_unknown_backend_is_a_usage_error() -> None:
    from workbench.errors import UsageError
    from workbench.models.backends import make_backend
    with pytest.raises(UsageError, match="unknown backend 'tgi'"):
        make_backend("tgi", "m")
