"""A tiny random Qwen2-VL built in code, saved like a real checkpoint (tests, demos, benches).

`build_tiny_model(out_dir)` writes config.json, model.safetensors, a byte-level BPE tokenizer with
the Qwen2-VL special tokens and chat template, and an image-only processor that works without
torchvision. `workbench.models.loader.load_model(out_dir)` loads it through the same path as a
real checkpoint. Weights are random: the text it generates is gibberish, by design.

`decisive=True` gives a model whose greedy choice leads by a clear margin at every decoding step
(the batched-generation tests compare batch B with batch 1 token by token; a random model has
near-tied logits that padding's rounding could flip): see `_make_decisive`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

# Qwen2-VL's chat template (from the model's tokenizer_config.json), images as vision pads.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>",
                  "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
                  "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

_CORPUS = [
    "Let me look at the image carefully and think step by step.",
    "The triangle has sides of length 3, 4 and 5, so it is a right triangle.",
    "Wait, I should double-check the angle. Hmm, maybe the answer is 42.",
    "So the final answer is B. 让我们再想一想。答案是 C。",
    "The bar chart shows sales per year; the highest bar is in 2019.",
    "Therefore x = 12 and the area is 0.5 * 12 * 7 = 42 square units.",
]


def _train_tokenizer(out: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    state = json.loads(tok.to_str())
    vocab = state["model"]["vocab"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["model"]["merges"]]
    hf = Qwen2TokenizerFast(vocab=vocab, merges=merges, unk_token=None, bos_token=None,
                            eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    hf.add_tokens(["<|endoftext|>"], special_tokens=True)
    hf.chat_template = CHAT_TEMPLATE
    hf.save_pretrained(str(out))


def image_only_processor(tokenizer: Any, image_processor: Any = None) -> Any:  # transformers types: imported lazily
    """A Qwen2-VL processor without a video processor (works without torchvision)."""
    from transformers import Qwen2VLImageProcessorPil, Qwen2VLProcessor

    class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
        # The stock processor insists on a video processor, whose auto class needs torchvision.
        attributes: ClassVar[list[str]] = ["image_processor", "tokenizer"]

        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                     **kwargs: Any) -> None:
            from transformers.processing_utils import ProcessorMixin
            self.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
            self.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)
            self.video_processor = None

    ip = image_processor or Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=224 * 224)
    return ImageOnlyQwen2VLProcessor(image_processor=ip, tokenizer=tokenizer,
                                     chat_template=tokenizer.chat_template)


def build_tiny_model(out_dir: str | Path, *, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                     hidden: int = 64, vision_depth: int = 2, vision_embed_dim: int = 32,
                     intermediate: int | None = None, vocab_size: int = 512,
                     max_pixels: int = 224 * 224, seed: int = 0, decisive: bool = False) -> Path:
    """Write a tiny random Qwen2-VL checkpoint to `out_dir` and return the folder.

    hidden must be divisible by heads and head_dim = hidden/heads by 4 (M-RoPE sections are
    derived from it: [h/4, h*3/8, h*3/8] of head_dim/2). E.g. the probe's memory bench uses
    layers=16, heads=16, kv_heads=4/8, hidden=256.
    """
    import torch
    from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessorPil

    if hidden % heads or (hidden // heads) % 8 or heads % kv_heads:
        raise ValueError(f"tiny model: hidden={hidden} must split into {heads} heads with head_dim "
                         f"divisible by 8 and heads divisible by kv_heads={kv_heads}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _train_tokenizer(out, vocab_size)
    tok = AutoTokenizer.from_pretrained(str(out))
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    half = hidden // heads // 2
    sec = [half // 4, (half - half // 4) // 2]
    mrope = [sec[0], sec[1], half - sec[0] - sec[1]]
    config = Qwen2VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate or hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                         max_position_embeddings=32768, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                                         "mrope_section": mrope},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                         pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=vision_depth, embed_dim=vision_embed_dim, hidden_size=hidden,
                           num_heads=max(1, vision_embed_dim // 16), patch_size=14, spatial_merge_size=2,
                           temporal_patch_size=2),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.bos_token_id = ids["<|endoftext|>"]
    # a random model could emit an image placeholder, which no prompt can hold after it (a real
    # model never does): its generation config forbids the vision tokens, as any backend honours
    model.generation_config.suppress_tokens = [ids[t] for t in ("<|vision_start|>", "<|vision_end|>",
                                                                 "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")]
    if decisive:
        _make_decisive(model, tok, seed)
    model.save_pretrained(str(out))
    ip = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=max_pixels)
    ip.save_pretrained(str(out))
    (out / "workbench_tiny.json").write_text(json.dumps(
        {"built_by": "workbench.models.tiny", "image_only_processor": True, "seed": seed, "decisive": decisive},
        indent=1))
    return out


EMBED_SCALE = 5.0   # the current token's embedding dominates the residual stream ...
HEAD_SCALE = 0.8    # ... and its successor's logit leads the runner-up by ~3 nats (measured: >= 2.8)


def _make_decisive(model: Any, tok: Any, seed: int) -> None:  # torch/transformers types: imported lazily
    """Rewrite the output layer as a strong successor map, keeping the first token context-driven.

    Each ordinary token `a` gets one successor `succ(a)` (a random permutation over the ordinary
    tokens and eos, so chains run until they reach eos or max_new_tokens); the output row of
    `succ(a)` is `a`'s normalised embedding, and embeddings are scaled up so that after a token the
    model's hidden state points at it: the successor leads every other token by several nats. The
    generation prompt always ends with the same token ("\n" after "assistant"); every output row is
    projected orthogonally to its embedding, so the first generated token depends on the prompt and
    the images only (and is computed in the unpadded prefill, identical at any batch size).
    """
    import torch
    emb = model.get_input_embeddings().weight
    special = set(tok.all_special_ids)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    prompt = tok.apply_chat_template([{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False)
    last = tok(prompt)["input_ids"][-1]
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        emb.mul_(EMBED_SCALE)
        n = emb[last] / emb[last].norm()
        proj = torch.eye(emb.shape[1]) - torch.outer(n, n)
        unit = emb / emb.norm(dim=1, keepdim=True)
        sources = [i for i in range(emb.shape[0]) if i not in special and i != last]
        targets = [*sources, eos]
        perm = torch.randperm(len(targets), generator=g).tolist()
        head = torch.zeros_like(model.lm_head.weight)
        for k, a in enumerate(sources):
            head[targets[perm[k]]] = HEAD_SCALE * (proj @ unit[a])
        model.lm_head.weight.copy_(head)
