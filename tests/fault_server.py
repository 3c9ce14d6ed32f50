"""A small, real OpenAI-compatible HTTP server on 127.0.0.1 that fails on purpose, for testing client retries.

A request is named by its last user message. Whether an attempt fails, and how (429, 500, or a reply that comes
only after the client has timed out), is a pure function of that name and the attempt number, so a run is
reproducible; the first ``max_faults`` attempts of a name may fail, the next one always succeeds. Successful
answers are counted per name, so a test can check that every request was completed exactly once."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("429", "500", "slow")


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 refuses connections from 16 concurrent clients


class FaultServer:
    def __init__(
        self,
        fault_rate: float = 0.3,
        max_faults: int = 3,
        slow_s: float = 1.0,
        reasoning: bool = False,
        api_key: str | None = None,
        status_for: dict[str, int | tuple[int, str]] | None = None,
        port: int = 0,
    ):
        """``slow_s`` must exceed the client's timeout; ``status_for`` answers a given name with a fixed status
        (and message) every time (e.g. 400), to check that such errors are not retried; with ``api_key`` set, a
        wrong bearer token gets a 401 whose body echoes the key, as a careless server might. ``port``: a given
        one (0: any free)."""
        self.fault_rate = fault_rate
        self.max_faults = max_faults
        self.slow_s = slow_s
        self.reasoning = reasoning
        self.api_key = api_key
        self.status_for = dict(status_for or {})
        self.attempts: Counter[str] = Counter()
        self.successes: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fault(self, name: str, attempt: int) -> str | None:
        """The fault for this attempt of this request, if any: deterministic, spread evenly over FAULTS."""
        if attempt >= self.max_faults:
            return None
        digest = int.from_bytes(hashlib.sha256(f"{name}\0{attempt}".encode()).digest()[:8], "big")
        if (digest % 10_000) / 10_000 >= self.fault_rate:
            return None
        return FAULTS[(digest // 10_000) % len(FAULTS)]

    def completion(self, body: dict, name: str) -> dict:
        """An answer derived from the request: the name echoed, the stop string kept (as `transformers serve`
        does), and token counts that tell requests apart."""
        content = f"echo: {name}"
        stop = body.get("stop") or []
        finish = "stop"
        if stop:
            content += stop[0]
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if limit is not None and limit <= 2:
            finish = "length"
        message = {"role": "assistant", "content": content}
        if self.reasoning:
            message["reasoning_content"] = f"thinking about {name}"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return {
            "id": f"cmpl-{hashlib.sha1(name.encode()).hexdigest()[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(content.split()),
                "total_tokens": prompt_tokens + len(content.split()),
            },
        }

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if server.api_key is not None and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    got = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    return self._send(401, {"error": {"message": f"Incorrect API key provided: {got}"}})
                users = [m for m in body.get("messages", []) if m.get("role") == "user"]
                name = str(users[-1]["content"]) if users else ""
                with server._lock:
                    attempt = server.attempts[name]
                    server.attempts[name] += 1
                    server.bodies.append(body)
                if name in server.status_for:
                    status, message = server.status_for[name], f"bad request {name}"
                    if isinstance(status, tuple):
                        status, message = status
                    return self._send(status, {"error": {"message": message, "code": status}})
                fault = server.fault(name, attempt)
                if fault is not None:
                    with server._lock:
                        server.faults[fault] += 1
                if fault == "429":
                    return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
                if fault == "500":
                    return self._send(500, {"error": {"message": "internal error"}})
                if fault == "slow":
                    server._stopping.wait(server.slow_s)  # the client has given up by now: this is not a success
                    try:
                        return self._send(503, {"error": {"message": "too late"}})
                    except OSError:
                        return None
                with server._lock:
                    server.successes[name] += 1
                return self._send(200, server.completion(body, name))

        return Handler
