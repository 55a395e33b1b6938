"""openai backend end to end against a real HTTP server on 127.0.0.1 serving the tiny model
over the chat-completions protocol (first request answered 429 to exercise the retry)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.models, pytest.mark.xdist_group("run_tiny")]


class TinyChatServer:
    """Minimal OpenAI-compatible server: /v1/chat/completions backed by the tiny model."""

    def __init__(self, model_dir: Path, fail_first: int = 1) -> None:
        from workbench.models.backends.transformers_backend import TransformersBackend
        self.backend = TransformersBackend(str(model_dir), dtype="float32")
        self.fail_first = fail_first
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                    if server.fail_first > 0:
                        server.fail_first -= 1
                        self.send_response(429)
                        self.send_header("Retry-After", "0")
                        self.end_headers()
                        self.wfile.write(b'{"error": "rate limited"}')
                        return
                    payload = server.complete(body)
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def complete(self, body: dict) -> dict:
        from workbench.models.backends.base import GenerationRequest, Sampling
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), None)
        user = next(m for m in body["messages"] if m["role"] == "user")
        images = [base64.b64decode(c["image_url"]["url"].split(",", 1)[1]) for c in user["content"]
                  if c["type"] == "image_url"]
        question = "".join(c["text"] for c in user["content"] if c["type"] == "text")
        res = self.backend.generate(GenerationRequest("x", question, images, system, Sampling(
            max_new_tokens=body["max_tokens"], temperature=body.get("temperature") or None,
            top_alternatives=body.get("top_logprobs", 0))))
        content = [{"token": t.text, "logprob": t.logprob,
                    "top_logprobs": [{"token": a, "logprob": lp} for a, lp in (t.top_alternatives or [])]}
                   for t in res.tokens if t.char_end > t.char_start]
        return {"id": "c1", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": res.response},
                             "finish_reason": "stop" if res.finish_reason == "eos" else "length",
                             "logprobs": {"content": content} if body.get("logprobs") else None}],
                "usage": {"prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens}}

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from workbench.models.tiny import build_tiny_model
    srv = TinyChatServer(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m"))
    yield srv
    srv.close()


def test_openai_backend_end_to_end_with_429_retry(server: TinyChatServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli import main
    from workbench.models.testdata import write_questions as make_data
    monkeypatch.setenv("TINY_KEY", "sk-test-123")
    data = make_data(tmp_path / "d", 3)
    db = tmp_path / "s.duckdb"
    rc = main(["run", "--backend", "openai", "--endpoint", server.url, "--model", "tiny-qwen2-vl",
               "--api-key-env", "TINY_KEY", "--data", str(data), "--db", str(db), "--max-new-tokens", "10",
               "--concurrency", "2", "--top-alternatives", "2"])
    assert rc == 0
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert len(server.requests) == 4, "one 429 then one request per sample"
    first = server.requests[1]
    assert first["auth"] == "Bearer sk-test-123" and first["logprobs"] is True and first["top_logprobs"] == 2
    img = first["messages"][1]["content"][0]["image_url"]["url"]
    assert img.startswith("data:image/png;base64,")
    assert first["messages"][0]["content"].startswith("You are a helpful and harmless assistant")
    con = duckdb.connect(str(db), read_only=True)
    got = con.execute("SELECT sample_id, status, finish_reason, completion_tokens, response FROM samples "
                      "ORDER BY 1").fetchall()
    assert [g[:2] for g in got] == [("q0", "ok"), ("q1", "ok"), ("q2", "ok")]
    for sid, _, finish, _n, response in got:
        assert finish in ("eos", "length")
        toks = con.execute("SELECT text, logprob, char_start, char_end FROM tokens WHERE sample_id = ? "
                           "ORDER BY token_index", [sid]).fetchall()
        assert toks and all(t[1] <= 0 for t in toks)
        assert "".join(t[0] for t in toks) == response
    con.close()


def test_unreachable_endpoint_fails_samples_with_a_clear_reason(tmp_path: Path) -> None:
    import socket

    from workbench.models.backends.base import Sampling
    from workbench.models.backends.openai_backend import OpenAIBackend
    from workbench.models.runner import RunOptions, run_model
    from workbench.models.testdata import write_questions as make_data
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens on it now
    backend = OpenAIBackend("m", endpoint=f"http://127.0.0.1:{port}/v1", max_retries=1, backoff=0.01, concurrency=1)
    db = tmp_path / "s.duckdb"
    summary = run_model(RunOptions(model="m", data=str(make_data(tmp_path / "d", 2)), db=str(db), backend="openai",
                                   sampling=Sampling(max_new_tokens=5)), backend=backend, log=lambda m: None)
    assert summary.failed == 2 and summary.done == 0
    con = duckdb.connect(str(db), read_only=True)
    errors = [r[0] for r in con.execute("SELECT error FROM samples WHERE status = 'failed'").fetchall()]
    con.close()
    assert len(errors) == 2 and all("failed after 2 attempts: unreachable" in e for e in errors)
