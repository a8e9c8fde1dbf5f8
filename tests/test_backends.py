"""Text from a model through one interface: an OpenAI-compatible server on loopback, the studio's
own engine on a tiny model, and a clear refusal for a GGUF where llama.cpp is missing."""

from __future__ import annotations

import importlib.util
import json
import socket

import pytest

from studio.chat.backends import EndpointBackend, open_backend
from tests.openai_server import openai_server


def test_endpoint_sends_the_conversation_and_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    with openai_server(lambda messages, body: "echo: " + messages[-1]["content"], model="judge-7b") as server:
        backend = open_backend(server.url)
        assert backend.kind == "endpoint" and backend.model == "judge-7b"  # the server's first model
        reply = backend.complete([{"role": "user", "content": "Which is better?"}], max_new_tokens=9, temperature=0)
        assert reply == "echo: Which is better?"
        sent = server.requests[-1]
        assert sent["headers"]["Authorization"] == "Bearer sk-test-123"
        assert sent["body"]["max_tokens"] == 9 and sent["body"]["model"] == "judge-7b"
        assert "sk-test" not in backend.name and "sk-test" not in json.dumps(backend.__dict__, default=str)


def test_endpoint_model_from_the_url_and_no_key_when_none_is_set(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with openai_server(lambda messages, body: "ok") as server:
        backend = open_backend(server.url + "?model=other")
        assert backend.model == "other"
        backend.complete([{"role": "user", "content": "x"}])
        assert "Authorization" not in server.requests[-1]["headers"]
        assert server.requests[-1]["body"]["model"] == "other"


def test_endpoint_failures_are_named(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with openai_server(lambda messages, body: "ok") as server:
        backend = open_backend(server.url + "?model=m")
        server.status = 401
        with pytest.raises(ValueError, match="HTTP 401.*OPENAI_API_KEY"):
            backend.complete([{"role": "user", "content": "x"}])
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match="did not answer.*server running"):
        EndpointBackend.from_url(f"http://127.0.0.1:{port}/v1?model=m", timeout_s=2).complete(
            [{"role": "user", "content": "x"}]
        )


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is not None, reason="llama-cpp-python is installed")
def test_gguf_without_llama_cpp_says_how_to_install(tmp_path):
    path = tmp_path / "judge.gguf"
    path.write_bytes(b"GGUF")
    with pytest.raises(ValueError, match="requirements-llamacpp.txt"):
        open_backend(str(path))
    with pytest.raises(ValueError, match="no such GGUF"):
        open_backend(str(tmp_path / "missing.gguf"))


def test_engine_backend_answers_from_a_tiny_model(tmp_path):
    from studio.bench.tiny import make_tiny_model

    folder = make_tiny_model(tmp_path / "tiny", "llama", seed=0)
    backend = open_backend(str(folder))
    assert backend.kind == "engine" and backend.source is None
    messages = [{"role": "user", "content": "Say something."}]
    first = backend.complete(messages, max_new_tokens=5, temperature=0)
    assert first == backend.complete(messages, max_new_tokens=5, temperature=0)  # greedy: the same words
    assert open_backend(str(folder), engine=backend.engine).engine is backend.engine  # same base: shared
    with pytest.raises(ValueError, match="no model named"):
        open_backend("  ")
