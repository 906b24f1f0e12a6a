"""Real local HTTP receivers standing in for WeCom, DingTalk, Feishu and webhook consumers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, strict_parsing=False)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))  # strict: a split character would fail here


class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1: records every request, answers what it is told."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.status = 200
        self.answer = b"{}"
        self.extra_headers: dict[str, str] = {}
        self.hang = False  # accept the request but never answer (until the test ends)
        self.script: list[tuple[int, bytes]] = []  # answers to give first, in order
        self.routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}  # path → its own answer
        self._released = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._released.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def url(self, path_and_query: str) -> str:
        return f"http://127.0.0.1:{self.port}{path_and_query}"

    def then(self, *answers: tuple[int, dict[str, Any] | bytes]) -> None:
        """Answer the next requests with these, in order, then with `reply`'s answer."""
        self.script += [(status, a if isinstance(a, bytes) else json.dumps(a).encode()) for status, a in answers]

    def reply(self, status: int, answer: dict[str, Any] | bytes, **headers: str) -> None:
        self.status = status
        self.answer = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.extra_headers = headers

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            parts = urlsplit(target)
            self.requests.append(Recorded(method, parts.path, parts.query, headers, body))
            if self.hang:
                await self._released.wait()
                return
            status, answer, extra_headers = self._answer(parts.path)
            extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers.items())
            writer.write(
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(answer)}\r\n"
                f"{extra}Connection: close\r\n\r\n".encode("latin-1")
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    def route(self, path: str, status: int, answer: bytes = b"{}", **headers: str) -> None:
        """Answer requests to `path` with this, whatever else is scripted (a redirect, say)."""
        self.routes[path] = (status, answer, headers)

    def _answer(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        if path in self.routes:
            return self.routes[path]
        if self.script:
            return (*self.script.pop(0), self.extra_headers)
        return self.status, self.answer, self.extra_headers

    @property
    def only(self) -> Recorded:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env=False: a proxy from the environment must not sit between us and 127.0.0.1
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http
