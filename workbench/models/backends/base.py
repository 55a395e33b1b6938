"""One interface and one record format for every generation backend.

A backend turns a `GenerationRequest` (system prompt, question, image bytes, sampling) into a
`GenerationResult`: the response text, every generated token (id, text, char span in the
response, log-probability, entropy of the next-token distribution, optional top-5 alternatives),
the finish reason, token counts and timings. Streaming: `on_progress(tokens_so_far)` is called
while generating (the runner persists partial traces from it). Adding a backend = one module
registered in `BACKENDS` of workbench/models/backends/__init__.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def qvq_generation_defaults() -> dict[str, Any]:
    """QVQ-72B-Preview's sampling defaults and system prompt (shipped as data)."""
    return json.loads((CONFIG_DIR / "qvq-72b-preview.generation.json").read_text())


@dataclass
class Sampling:
    max_new_tokens: int = 8192
    temperature: float | None = None   # None/0 -> greedy
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    top_alternatives: int = 0          # how many alternatives to record per token (0 = none)

    @property
    def greedy(self) -> bool:
        return not self.temperature or self.temperature <= 0 or self.top_k == 1


@dataclass
class GenerationRequest:
    sample_id: str
    question: str
    images: list[bytes] = field(default_factory=list)
    system_prompt: str | None = None
    sampling: Sampling = field(default_factory=Sampling)


@dataclass
class TokenRecord:
    """One generated token. logprob: log p(token) under the model's raw distribution (<= 0;
    very negative = surprising). entropy: nats of that distribution (high = unsure)."""
    token_index: int
    token_id: int | None
    text: str
    logprob: float | None
    entropy: float | None
    char_start: int
    char_end: int
    top_alternatives: list[tuple[str, float]] | None = None


@dataclass
class GenerationResult:
    response: str
    tokens: list[TokenRecord]
    finish_reason: str                 # "eos" | "length" | "cancelled"
    prompt_tokens: int | None
    completion_tokens: int
    seconds: float
    first_token_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[list[TokenRecord]], None]
CancelFn = Callable[[], bool]


class Backend:
    """Base class. Subclasses implement `generate`; `close` frees resources."""
    name = "base"
    model_name: str = ""

    def generate(self, request: GenerationRequest, *, on_progress: ProgressFn | None = None,
                 should_cancel: CancelFn | None = None) -> GenerationResult:
        raise NotImplementedError

    def close(self) -> None:
        pass


def decode_images(request: GenerationRequest) -> list[Any]:
    """The request's images as RGB PIL images; a corrupt one is an InputError naming the sample."""
    import io

    from PIL import Image

    from workbench.errors import InputError
    images = []
    for k, data in enumerate(request.images):
        try:
            im = Image.open(io.BytesIO(data))
            im.load()
            images.append(im.convert("RGB"))
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds
            raise InputError(f"image {k + 1} cannot be decoded ({exc})", sample_id=request.sample_id) from exc
    return images


def chat_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """Qwen2-VL chat messages: optional system prompt, then the images and the question."""
    msgs: list[dict[str, Any]] = []
    if request.system_prompt:
        msgs.append({"role": "system", "content": request.system_prompt})
    content: list[dict[str, Any]] = [{"type": "image"} for _ in request.images]
    content.append({"type": "text", "text": request.question})
    msgs.append({"role": "user", "content": content})
    return msgs


def spans_from_texts(texts: list[str], special: list[bool]) -> tuple[str, list[tuple[int, int]]]:
    """Response text (special tokens left out) and each token's char span in it."""
    parts, spans, pos = [], [], 0
    for t, sp in zip(texts, special):
        if sp:
            spans.append((pos, pos))
            continue
        parts.append(t)
        spans.append((pos, pos + len(t)))
        pos += len(t)
    return "".join(parts), spans
