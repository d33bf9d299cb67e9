"""A local HTTP server that speaks enough of Slack's Web API for delivery tests.

Runs in a thread on 127.0.0.1 (port 0). Endpoints: POST /api/chat.postMessage,
GET|POST /api/conversations.history, /api/conversations.replies, /api/conversations.list,
/api/auth.test, and POST /hooks/<anything> (an incoming webhook). Every request is recorded.

Responses are scriptable per method: `server.script("chat.postMessage", Reply(429, retry_after=1), Reply(200))`
queues one-off replies (a Reply with status 200 and no body means "behave normally");
`server.fail_always("chat.postMessage", Reply(500))` answers every call that way until cleared.

    with SlackServer() as slack:
        cfg = ... base_url=slack.base_url ...
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "xoxb-test-token"


@dataclass
class Reply:
    """A scripted answer: HTTP status, optional JSON body (None: normal behaviour if 200)."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    retry_after: float | None = None


@dataclass
class Request:
    method: str  # API method name, or "webhook"
    http_method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]


@dataclass
class Message:
    channel: str  # channel ID
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


class SlackServer:
    """Threaded fake Slack; `messages` holds what was delivered, `requests` everything asked."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[Request] = []
        self.messages: list[Message] = []
        self.webhook_messages: list[dict[str, Any]] = []
        self.channels: dict[str, str] = {}  # name (without '#') -> ID
        self._scripts: dict[str, deque[Reply]] = {}
        self._always: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._ts = time.time()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self, "GET")

            def do_POST(self) -> None:
                server._handle(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/"
        self.webhook_url = f"http://127.0.0.1:{self.port}/hooks/T000/B000/XXXX"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slackserver", daemon=True)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- scripting

    def script(self, method: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts.setdefault(method, deque()).extend(replies)

    def fail_always(self, method: str, reply: Reply | None) -> None:
        with self._lock:
            if reply is None:
                self._always.pop(method, None)
            else:
                self._always[method] = reply

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

    def channel_id(self, name: str) -> str:
        name = name.removeprefix("#")
        with self._lock:
            if name.startswith("C") and name.isupper():
                return name
            if name not in self.channels:
                self.channels[name] = f"C{len(self.channels) + 1:08d}"
            return self.channels[name]

    # ---------------------------------------------------------------- handling

    def _next_ts(self) -> str:
        with self._lock:
            self._ts = max(self._ts + 0.000100, time.time())
            return f"{self._ts:.6f}"

    def _handle(self, h: BaseHTTPRequestHandler, http_method: str) -> None:
        url = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(url.query).items()}
        ctype = h.headers.get("Content-Type") or ""
        if raw:
            if "json" in ctype:
                params.update(json.loads(raw.decode("utf-8")))
            else:
                params.update({k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()})
        if url.path.startswith("/hooks/"):
            method = "webhook"
        elif url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
        else:
            method = url.path
        headers = {k: v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(Request(method, http_method, url.path, headers, params))
            reply = self._always.get(method)
            if reply is None and self._scripts.get(method):
                reply = self._scripts[method].popleft()
        if reply is not None and (reply.status != 200 or reply.body is not None):
            self._send(h, reply.status, reply.body if reply.body is not None else {"ok": False, "error": "scripted"},
                       retry_after=reply.retry_after)
            return
        if method == "webhook":
            self.webhook_messages.append(params)
            self._send(h, 200, "ok")
            return
        auth = h.headers.get("Authorization") or ""
        if auth != f"Bearer {self.token}":
            self._send(h, 200, {"ok": False, "error": "invalid_auth" if auth else "not_authed"})
            return
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            self._send(h, 404, {"ok": False, "error": "unknown_method"})
            return
        self._send(h, 200, handler(params))

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: dict[str, Any] | str,
              *, retry_after: float | None = None) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8" if isinstance(body, dict) else "text/plain")
        h.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            h.send_header("Retry-After", f"{retry_after:g}")
        h.end_headers()
        h.wfile.write(data)

    # ---------------------------------------------------------------- API methods

    def _api_auth_test(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "kling-monitor",
                "team_id": "T000", "user_id": "U000", "bot_id": "B000"}

    def _api_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        if not p.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not p.get("text") and not p.get("blocks"):
            return {"ok": False, "error": "no_text"}
        blocks = p.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks is not None and len(blocks) > 50:
            return {"ok": False, "error": "invalid_blocks"}
        metadata = p.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        cid = self.channel_id(str(p["channel"]))
        ts = self._next_ts()
        msg = Message(cid, ts, str(p.get("text") or ""), blocks, metadata, p.get("thread_ts"),
                      bool(p.get("reply_broadcast")), raw=dict(p))
        with self._lock:
            self.messages.append(msg)
        return {"ok": True, "channel": cid, "ts": ts,
                "message": {"type": "message", "text": msg.text, "ts": ts, "bot_id": "B000"}}

    def _render(self, m: Message, with_meta: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text, "bot_id": "B000"}
        if m.thread_ts:
            d["thread_ts"] = m.thread_ts
        if with_meta and m.metadata:
            d["metadata"] = m.metadata
        return d

    @staticmethod
    def _truthy(v: Any) -> bool:
        return v is True or str(v).lower() in ("1", "true")

    def _api_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel", "")))
        oldest = float(p.get("oldest") or 0)
        limit = int(p.get("limit") or 100)
        with self._lock:
            msgs = [m for m in self.messages if m.channel == cid and float(m.ts) >= oldest
                    and (m.thread_ts is None or m.reply_broadcast)]
        msgs = sorted(msgs, key=lambda m: float(m.ts), reverse=True)[:limit]
        return {"ok": True, "messages": [self._render(m, self._truthy(p.get("include_all_metadata"))) for m in msgs],
                "has_more": False}

    def _api_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = self.channel_id(str(p.get("channel", "")))
        ts = str(p.get("ts"))
        with self._lock:
            msgs = [m for m in self.messages if m.channel == cid and (m.ts == ts or m.thread_ts == ts)]
        if not msgs:
            return {"ok": False, "error": "thread_not_found"}
        msgs.sort(key=lambda m: float(m.ts))
        return {"ok": True, "messages": [self._render(m, self._truthy(p.get("include_all_metadata"))) for m in msgs]}

    def _api_conversations_list(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            chans = [{"id": cid, "name": name, "is_channel": True} for name, cid in self.channels.items()]
        return {"ok": True, "channels": chans, "response_metadata": {"next_cursor": ""}}
