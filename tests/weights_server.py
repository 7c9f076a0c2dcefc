"""A real HTTP server on 127.0.0.1 for the weights-download tests: serves a folder, counts
requests, and under /truncated/ sends the full Content-Length but only half the bytes."""

from __future__ import annotations

import contextlib
import http.server
import os
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    root = ""
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        truncated = self.path.startswith("/truncated/")
        name = self.path.removeprefix("/truncated/").lstrip("/")
        path = os.path.join(self.root, os.path.basename(name))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncated else body)
        if truncated:  # the connection drops mid-transfer
            self.close_connection = True

    def log_message(self, *args):  # quiet
        pass


@contextlib.contextmanager
def serve(root: str):
    """Yields (base URL, list of requested paths) for a server of `root` on 127.0.0.1."""
    handler = type("Handler", (_Handler,), {"root": str(root), "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    finally:
        server.shutdown()
        server.server_close()
