"""The embedded Redis stand-in for `make run`: fakeredis served over TCP, shared by processes.

fakeredis's TCP handler closes the connection after any error reply. Real Redis keeps it open,
and clients rely on that: redis-py runs a Lua script with EVALSHA, gets NOSCRIPT the first time,
and loads the script on the same connection (Flask-Limiter does this on every first hit). Our
handler writes the error and goes on serving the connection, as Redis does.
"""

from __future__ import annotations

import select
import socket
import threading

from fakeredis import TcpFakeServer
from fakeredis._clients._tcp_server import _POLL_INTERVAL, LOGGER, TCPFakeRequestHandler


class _RedisLikeHandler(TCPFakeRequestHandler):
    def handle(self) -> None:
        while not self.server._shutdown_event.is_set():
            try:
                if self.current_client.can_read():
                    try:
                        response = self.current_client.read_response()
                    except ConnectionError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - an error reply, not a broken link
                        response = exc
                    self.writer.dump(response)
                    continue
                data = self.rfile.readline()
                if data == b"":
                    readable, _, _ = select.select([self.connection], [], [], _POLL_INTERVAL)
                    if not readable:
                        continue
                    data = self.rfile.readline()
                    if data == b"":
                        break
                self.current_client.get_socket().sendall(data)
            except ConnectionError as exc:
                LOGGER.debug("embedded redis: %s reset: %s", self.client_address[0], exc)
                break


def start_embedded_redis(host: str = "127.0.0.1") -> tuple[str, TcpFakeServer]:
    """Serve a fresh fakeredis on a free port in a daemon thread; (redis URL, server)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = TcpFakeServer((host, port), server_type="redis")
    server.RequestHandlerClass = _RedisLikeHandler
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"redis://{host}:{port}/0", server
