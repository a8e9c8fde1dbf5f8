"""Text from a model, wherever it runs: the studio's own engine, a GGUF through llama.cpp, or an
OpenAI-compatible server. The judges (studio.evaluate), the teachers and the pair samplers
(data from models) all speak to a model through one of these.

    backend = open_backend("smollm2")                        # an alias, Hub id or model folder: ChatEngine
    backend = open_backend("runs/<id>/adapter")              # an adapter (or full model) a run saved
    backend = open_backend("model.gguf")                     # llama.cpp, where llama-cpp-python is installed
    backend = open_backend("http://127.0.0.1:8000/v1")       # POST {url}/chat/completions
    backend.complete([{"role": "user", "content": "Hi"}], max_new_tokens=64)   # -> "Hello! ..."

An endpoint's key comes from ``OPENAI_API_KEY`` at the moment of the request; it is never stored
on the backend, written to disk or shown: ``backend.name`` is the URL without credentials. The
model an endpoint serves is the ``model=`` query of the URL (``http://host/v1?model=gpt-4o-mini``),
else ``OPENAI_MODEL``, else the first model its ``/models`` lists.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from studio.chat.engine import ChatEngine
from studio.chat.sampling import Sampling
from studio.chat.sources import same_base, source_base, source_kind

ENDPOINT_TIMEOUT_S = 120.0


class Backend(Protocol):
    name: str
    kind: str  # "engine", "gguf" or "endpoint"

    def complete(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        """One reply to a conversation (a list of {"role", "content"} messages)."""


def is_endpoint(spec: str) -> bool:
    return str(spec).startswith(("http://", "https://"))


def open_backend(spec: str, engine=None, source_root: str | Path | None = None) -> Backend:
    """The backend a spec names: an http(s) URL, a .gguf file, else a model or adapter for the engine.

    ``engine`` is a shared ChatEngine (the app's) so that a judge on the base does not load it twice;
    ``source_root`` limits adapters to the runs folder, as the chat does.
    """
    spec = str(spec or "").strip()
    if not spec:
        raise ValueError("no model named: give a model id or folder, a .gguf file or an http(s):// URL")
    if is_endpoint(spec):
        return EndpointBackend.from_url(spec)
    if spec.lower().endswith(".gguf"):
        return GGUFBackend(spec)
    return EngineBackend.open(spec, engine, source_root)


@dataclass
class EngineBackend:
    """A model the studio loads (base by alias, Hub id or folder; or a run's adapter over its base)."""

    engine: object
    source: str | None
    name: str
    kind: str = "engine"
    base: str | None = None  # the base it answers with, put back should the chat have swapped it out

    @classmethod
    def open(cls, spec: str, engine=None, source_root=None) -> EngineBackend:
        """A base model by name, or a run's adapter/full model over the base it was trained from.

        The given engine is reused when it holds (or can hold) that base; a judge on another base
        gets an engine of its own, so that a jury never swaps models in and out of one engine.
        """
        folder = Path(spec)
        trained = folder.is_dir() and (
            (folder / "adapter_config.json").exists()
            or (source_kind(folder) == "full" and (folder.parent / "config.yaml").exists())
        )
        base = (source_base(folder) if trained else spec) or None
        if engine is None or (base and engine.bank is not None and not same_base(base, engine.base_name)):
            engine = ChatEngine(base=base) if base else ChatEngine()
        if source_root is not None and engine.source_root is None:
            engine.source_root = Path(source_root)
        engine.ensure_base(base)
        source = str(folder) if trained else None
        if source:
            engine.check_source(source)
        return cls(engine, source, spec, base=base)

    def complete(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        sampling = Sampling(
            temperature=max(temperature, 0.01), max_new_tokens=max_new_tokens, seed=seed, greedy=temperature <= 0
        )
        with self.engine.lock:
            self.engine.ensure_base(self.base)
            return self.engine.reply(messages, self.source, sampling)


@dataclass
class GGUFBackend:
    """A GGUF file through llama.cpp (requirements-llamacpp.txt); its own chat template applies."""

    path: str
    name: str = ""
    kind: str = "gguf"
    _llm: object = field(default=None, repr=False)

    def __post_init__(self):
        self.name = self.name or self.path
        if not Path(self.path).is_file():
            raise ValueError(f"{self.path}: no such GGUF file")
        try:
            import llama_cpp  # lazy: optional - compiled from source (requirements-llamacpp.txt)
        except ImportError:
            raise ValueError(
                f"{self.path}: reading a GGUF needs llama-cpp-python "
                "(.venv/bin/pip install -r requirements-llamacpp.txt); or judge with the model's folder"
            ) from None
        self._llm = llama_cpp.Llama(model_path=self.path, n_ctx=4096, verbose=False)

    def complete(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        out = self._llm.create_chat_completion(
            messages=messages, max_tokens=max_new_tokens, temperature=temperature, seed=seed
        )
        return out["choices"][0]["message"]["content"] or ""


@dataclass
class EndpointBackend:
    """An OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, TGI, OpenAI...)."""

    base_url: str
    model: str
    name: str
    kind: str = "endpoint"
    timeout_s: float = ENDPOINT_TIMEOUT_S

    @classmethod
    def from_url(cls, url: str, timeout_s: float = ENDPOINT_TIMEOUT_S) -> EndpointBackend:
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else parts.netloc
        base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        backend = cls(base, query.get("model") or os.environ.get("OPENAI_MODEL", ""), base, timeout_s=timeout_s)
        if not backend.model:
            backend.model = backend._first_model()
        backend.name = f"{base} ({backend.model})"
        return backend

    def _request(self, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get("OPENAI_API_KEY", "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            hint = " (set OPENAI_API_KEY to a key it accepts)" if exc.code in (401, 403) else ""
            raise ValueError(f"{self.base_url}{path} answered HTTP {exc.code}{hint}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ValueError(f"{self.base_url}{path} did not answer ({reason}): is the server running?") from None
        except json.JSONDecodeError:
            raise ValueError(f"{self.base_url}{path} answered something that is not JSON") from None

    def _first_model(self) -> str:
        models = self._request("/models").get("data") or []
        if not models:
            raise ValueError(f"{self.base_url} lists no model: add ?model=NAME to the URL")
        return str(models[0].get("id", ""))

    def complete(self, messages: list[dict], max_new_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        out = self._request("/chat/completions", body)
        try:
            return out["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"{self.base_url}/chat/completions answered without choices[0].message") from None
