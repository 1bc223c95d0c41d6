"""A local Contifico API simulator over real HTTP (skeleton; completed by the contifico issue)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cartera_pipelines.settings import SANDBOX_CONTIFICO_API_KEY


def make_server(host: str, port: int, *, api_key: str = SANDBOX_CONTIFICO_API_KEY) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.headers.get("Authorization") != api_key:
                self._json(401, {"detail": "Las credenciales de autenticación no se proveyeron."})
                return
            self._json(200, [])

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def serve_forever(
    *, host: str, port: int, home: Path, scale: int, seed: int, log: Callable[[str], None]
) -> None:
    server = make_server(host, port)
    log(f"Contifico simulator on http://{host}:{server.server_port}/sistema/api/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
