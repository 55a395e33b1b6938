"""Any OpenAI-compatible chat-completions endpoint (vLLM/SGLang server, hosted APIs).

Images go as `data:` URIs, logprobs (with top alternatives) are requested and used when the
server returns them (retried without them when a server refuses the option), the API key is
read from an environment variable, 429/5xx and connection errors are retried with exponential
backoff (Retry-After honoured), and `concurrency` requests are in flight at once (a thread pool;
each finished request is reported as soon as it returns). Stdlib only.
Entropy is not available from endpoints (NULL); token ids neither.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from workbench.errors import WorkbenchError
from workbench.models.backends.base import Backend, Event, GenerationRequest, GenerationResult, TokenRecord

FINISH = {"stop": "eos", "eos": "eos", "length": "length"}


def sniff_mime(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def build_chat_request(model: str, request: GenerationRequest, *, logprobs: bool = True) -> dict[str, Any]:
    """The chat-completions body for one sample (pure; tested without a server)."""
    s = request.sampling
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": f"data:{sniff_mime(b)};base64,{base64.b64encode(b).decode()}"}}
        for b in request.images]
    content.append({"type": "text", "text": request.question})
    messages: list[dict[str, Any]] = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    messages.append({"role": "user", "content": content})
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": s.max_new_tokens,
                            "temperature": 0.0 if s.greedy else s.temperature}
    if s.top_p is not None and not s.greedy:
        body["top_p"] = s.top_p
    if s.seed is not None:
        body["seed"] = s.seed
    if logprobs:
        body["logprobs"] = True
        if s.top_alternatives:
            body["top_logprobs"] = min(20, s.top_alternatives)
    return body


def parse_chat_response(payload: dict[str, Any]) -> tuple[str, list[TokenRecord], str, int | None, int]:
    """(response, tokens, finish_reason, prompt_tokens, completion_tokens) from a response body."""
    choice = payload["choices"][0]
    text = choice["message"].get("content") or ""
    items = ((choice.get("logprobs") or {}).get("content")) or []
    toks, pos = [], 0
    for k, it in enumerate(items):
        t = it.get("token", "")
        alts = [(a.get("token", ""), float(a["logprob"])) for a in it.get("top_logprobs") or []] or None
        toks.append(TokenRecord(token_index=k, token_id=None, text=t, logprob=float(it["logprob"]), entropy=None,
                                char_start=pos, char_end=pos + len(t), top_alternatives=alts))
        pos += len(t)
    usage = payload.get("usage") or {}
    finish = FINISH.get(choice.get("finish_reason") or "", choice.get("finish_reason") or "unknown")
    return text, toks, finish, usage.get("prompt_tokens"), usage.get("completion_tokens") or len(toks)


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str, *, endpoint: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 4, max_retries: int = 5, backoff: float = 1.0, timeout: float = 600.0,
                 **_: Any) -> None:
        if not endpoint:
            raise WorkbenchError("the openai backend needs --endpoint, e.g. http://host:8000/v1")
        self.model_name = model
        self.url = endpoint.rstrip("/") + ("" if endpoint.rstrip("/").endswith("/chat/completions")
                                           else "/chat/completions")
        self.api_key = os.environ.get(api_key_env, "")
        self.max_retries, self.backoff, self.timeout = max_retries, backoff, timeout
        self.capacity = max(1, concurrency)
        self.window = self.capacity          # more would only wait in the thread pool's queue
        self._pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="endpoint")
        self._futures: dict[Future, str] = {}
        self.logprobs_supported = True

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
            try:
                req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:300]
                if exc.code == 429 or exc.code >= 500:
                    last = f"HTTP {exc.code}: {detail}"
                    ra = exc.headers.get("Retry-After")
                    if ra and ra.replace(".", "", 1).isdigit():
                        wait = float(ra)
                elif exc.code == 400 and "logprob" in detail.lower() and body.get("logprobs"):
                    self.logprobs_supported = False
                    body = {k: v for k, v in body.items() if k not in ("logprobs", "top_logprobs")}
                    data = json.dumps(body).encode()
                    continue
                else:
                    raise WorkbenchError(f"endpoint {self.url} refused the request: HTTP {exc.code}: {detail}") from exc
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last = f"unreachable ({getattr(exc, 'reason', exc)})"
            if attempt < self.max_retries:
                time.sleep(wait)
        raise WorkbenchError(f"endpoint {self.url} failed after {self.max_retries + 1} attempts: {last}")

    def submit(self, request: GenerationRequest) -> None:
        self._futures[self._pool.submit(self.generate_one, request)] = request.sample_id

    def in_flight(self) -> int:
        return len(self._futures)

    def step(self) -> list[Event]:
        if not self._futures:
            return []
        done, _ = wait(list(self._futures), timeout=0.5, return_when=FIRST_COMPLETED)
        events = []
        for fut in done:
            sid = self._futures.pop(fut)
            try:
                events.append(Event(sid, "done", result=fut.result()))
            except WorkbenchError as exc:
                events.append(Event(sid, "failed", error=str(exc)))
            except Exception as exc:  # noqa: BLE001 - an unexpected client error fails this sample only
                events.append(Event(sid, "failed", error=f"{type(exc).__name__}: {exc}"))
        return events

    def cancel(self) -> list[Event]:
        """Requests not sent yet are dropped; those in flight finish and are reported normally."""
        return [Event(self._futures.pop(fut), "dropped") for fut in [f for f in self._futures if f.cancel()]]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        t0 = time.monotonic()
        body = build_chat_request(self.model_name, request, logprobs=self.logprobs_supported)
        payload = self._post(body)
        try:
            text, toks, finish, prompt, completion = parse_chat_response(payload)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise WorkbenchError(f"endpoint {self.url} returned an unexpected body: {str(payload)[:300]}") from exc
        return GenerationResult(response=text, tokens=toks, finish_reason=finish, prompt_tokens=prompt,
                                completion_tokens=completion, seconds=time.monotonic() - t0,
                                extra={"endpoint": self.url})
