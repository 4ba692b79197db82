"""A tiny HTTP server that keeps every request it gets and answers each path with the JSON it
was told: the adapters' requests are checked as they leave, over real HTTP."""

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        """A multipart body's parts: name → (file name, content type, bytes)."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[name] = (
                part.get_filename(),
                part.get_content_type(),
                part.get_payload(decode=True),
            )
        return parts


@dataclass
class Recorder:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    # path → (status, JSON answer); any other path answers 200 {}.
    answers: dict = field(default_factory=dict)


def serve() -> tuple[Recorder, ThreadingHTTPServer]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recorder.requests.append(Request("POST", self.path, dict(self.headers), body))
            status, answer = recorder.answers.get(self.path, (200, {}))
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return recorder, server
