"""A real OpenAI-compatible HTTP server on loopback, for the judge, teacher and pair-sampler tests.

    with openai_server(lambda messages, body: "A") as server:   # answer every request with "A"
        backend = open_backend(server.url)                        # http://127.0.0.1:PORT/v1
        ...
        server.requests                                           # every request's JSON body and headers

It speaks the two routes the studio calls (``GET /v1/models`` and ``POST /v1/chat/completions``)
over the standard library's HTTP server, so the studio's real client, timeouts and error paths run.
A responder that raises makes the server answer HTTP 500; ``status`` forces a code (401 etc.).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Responder = Callable[[list[dict], dict], str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, responder: Responder, model: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.responder = responder
        self.model = model
        self.requests: list[dict] = []
        self.status: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") != "/v1/models":
            return self._send(404, {"error": "not found"})
        self._send(200, {"object": "list", "data": [{"id": self.server.model, "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
        if self.server.status:
            return self._send(self.server.status, {"error": {"message": "refused"}})
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {"error": "not found"})
        try:
            text = self.server.responder(body.get("messages", []), body)
        except Exception as exc:  # noqa: BLE001 - the server's own failure, answered as HTTP 500
            return self._send(500, {"error": {"message": str(exc)}})
        self._send(
            200,
            {
                "object": "chat.completion",
                "model": body.get("model", self.server.model),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            },
        )


@contextlib.contextmanager
def openai_server(responder: Responder, model: str = "loopback-judge"):
    server = _Server(responder, model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
