"""One interface and one record format for every generation backend.

A backend turns a `GenerationRequest` (system prompt, question, image bytes, sampling) into a
`GenerationResult`: the response text, every generated token (id, text, char span in the
response, log-probability, entropy of the next-token distribution, optional top-5 alternatives),
the finish reason, token counts and timings. Backends are engines: the runner submits requests,
steps the engine and receives events (finished, failed, partial progress) as they happen, so a
batching backend keeps its slots full. Adding a backend = one module registered in `BACKENDS` of
workbench/models/backends/__init__.py.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

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


@dataclass
class Event:
    """What a backend reports: a finished sample (`done`, its result; a cancelled one has finish_reason
    'cancelled'), a `failed` one (the reason), `progress` (the response so far), or `dropped` (a
    queued request a cancel removed before it started: nothing to record)."""
    sample_id: str
    kind: str
    result: GenerationResult | None = None
    error: str | None = None
    text: str = ""
    n_tokens: int = 0


class Backend:
    """Base class: an engine the runner feeds and steps.

    `submit(request)` queues a request; `step()` advances generation and returns the events that
    happened (finished, failed, progress); `in_flight()` counts submitted requests not yet reported
    finished or failed; `cancel()` stops: queued requests are dropped, running ones end as
    'cancelled' with what they have (or, where a request cannot be interrupted, finish normally).
    Every submitted request is eventually reported exactly once as done, failed or dropped.
    `capacity` is how many sequences the backend generates at once (batch size, concurrent
    requests); the runner keeps about twice that in flight so a free slot is refilled at once.
    This base class runs one request at a time through `generate_one`; batching backends override
    the engine methods. `generate(request)` is the one-request convenience (tests, servers).
    """
    name = "base"
    model_name: str = ""
    capacity: int = 1

    @property
    def _queue(self) -> deque[GenerationRequest]:
        if "_q" not in self.__dict__:
            self.__dict__["_q"] = deque()
        return self.__dict__["_q"]

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        raise NotImplementedError

    def submit(self, request: GenerationRequest) -> None:
        self._queue.append(request)

    def in_flight(self) -> int:
        return len(self._queue)

    def step(self) -> list[Event]:
        if not self._queue:
            return []
        request = self._queue.popleft()
        try:
            return [Event(request.sample_id, "done", result=self.generate_one(request))]
        except WorkbenchError as exc:
            return [Event(request.sample_id, "failed", error=str(exc))]

    def cancel(self) -> list[Event]:
        return self._drop_queue()

    def _drop_queue(self) -> list[Event]:
        events = [Event(r.sample_id, "dropped") for r in self._queue]
        self._queue.clear()
        return events

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Generate one request alone; raises WorkbenchError when it fails."""
        self.submit(request)
        while True:
            for ev in self.step():
                if ev.sample_id != request.sample_id or ev.kind == "progress":
                    continue
                if ev.kind == "failed":
                    raise WorkbenchError(ev.error or "generation failed")
                assert ev.result is not None
                return ev.result

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
        except Exception as exc:  # PIL raises many kinds
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
