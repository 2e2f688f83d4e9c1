"""A minimal HTTP/1.1 server on plain `asyncio`, in a background thread (the fake OpenAI server's transport).

One event loop holds hundreds of slow connections at almost no cost, which a thread-per-connection server
would not. It reads request lines, headers and bodies (Content-Length or chunked) with keep-alive, and writes
JSON replies, whole, cut short or dripped; a subclass answers each request in `_dispatch`.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
from typing import Any

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class AsyncHTTPServer:
    """Serves on `host`:`port` (0: a free port, known once started) until `stop()`. A subclass provides
    `_dispatch(method, path, headers, body, writer, reader) -> whether the connection may be reused`.

    Counters: `statuses` (replies sent, by status), `connections` (accepted); `reset_stats()` clears them.
    """

    thread_name = "async-http-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.reset_stats()

    def reset_stats(self) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        self.connections = 0

    async def _dispatch(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes, writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
    ) -> bool:
        raise NotImplementedError

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> AsyncHTTPServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            raise RuntimeError(f"fake server failed to start: {self._startup_error}") from self._startup_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._on_connection, self.host, self.port, backlog=4096)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> AsyncHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- HTTP
    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    method, target, _version = line.decode("latin-1").split()
                except ValueError:
                    await self._send(
                        writer, 400, {"error": {"message": "bad request line"}}, keep_alive=False
                    )
                    break
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await self._read_body(reader, headers)
                keep_alive = headers.get("connection", "").lower() != "close"
                keep_alive = (
                    await self._dispatch(method, target.split("?", 1)[0], headers, body, writer, reader)
                    and keep_alive
                )
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the peer may be gone already
                pass

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readline()
        return b""

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        *,
        keep_alive: bool = True,
        extra_headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        truncate: bool = False,
    ) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        head += [f"{k}: {v}" for k, v in (extra_headers or {}).items()]
        self.statuses[status] += 1
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        writer.write(data[: len(data) // 2] if truncate else data)
        await writer.drain()

    async def _drip(self, writer: asyncio.StreamWriter, data: bytes, seconds: float) -> None:
        # a body long enough to last `seconds` at 10 bytes a second: padding after the JSON
        data = data + b" " * max(0, int(seconds * 10) - len(data))
        writer.write((f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                      "Connection: close\r\n\r\n").encode("latin-1"))
        self.statuses[200] += 1
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0.1)
