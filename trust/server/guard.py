"""What a client may send, and how slowly: the server holds however a request arrives.

Two layers, because uvicorn hands the app a request only once its line and headers are in:

- ``header_timeout`` (the HTTP protocol): a request whose line and headers are not complete
  ``header_timeout_s`` after they began is answered 408 and its connection closed (slowloris).
  A new connection that sends nothing in that time is closed without an answer.
- ``Guard`` (ASGI middleware around the whole app), on the body as the app reads it, chunked
  or not: past ``MAX_BODY_BYTES`` → 413; no bytes for ``body_idle_timeout_s``, or the body not
  complete ``body_timeout_s`` after the request came in → 408; JSON nested deeper than
  ``MAX_JSON_DEPTH`` → 400; and no byte of a body reaches a request nobody has authenticated
  yet (``admit``) → 401. Bytes pass through counted, never collected. After a refusal nothing
  more is read, the guard's answer is the one sent, and it closes the connection so that the
  rest of the body is not drained; so does any answer sent before its request's body was read.

    >>> app = Guard(app, Limits.from_config(config), json_paths=is_api, open_paths={"/checker/login"})  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import h11
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from trust.config import Config
from trust.errors import ConfigurationError, NotAuthenticated, TrustError

log = logging.getLogger("trust.server")
MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 64
ADMITTED = "trust.admitted"  # scope key: who the request was authenticated as


@dataclass(frozen=True)
class Limits:
    header_timeout_s: float = 10.0
    body_idle_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    max_json_depth: int = MAX_JSON_DEPTH

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        for name in ("header_timeout_s", "body_idle_timeout_s", "body_timeout_s"):
            if getattr(config, name) <= 0:
                raise ConfigurationError(
                    f"Setting {name!r} must be more than 0 seconds, got {getattr(config, name)!r}. "
                    f"Fix it in trust.toml or the TRUST_{name.upper()} environment variable."
                )
        return cls(
            header_timeout_s=config.header_timeout_s,
            body_idle_timeout_s=config.body_idle_timeout_s,
            body_timeout_s=config.body_timeout_s,
        )


def problem(status: int, code: str, message: str, **context: Any) -> JSONResponse:
    """The API's error shape for an answer that is not a raised ``TrustError``."""
    return JSONResponse({"error": code, "type": "TrustError", "message": message, **context}, status_code=status)


def admit(scope: Scope, who: str) -> None:
    """Record that this request was authenticated: from now on its body may be read."""
    scope[ADMITTED] = who


class Refused(HTTPException):
    """The guard will read no more of this request. Raised from ``receive()``; an HTTP exception,
    so the app's error handling answers it as the client's fault rather than an internal error."""

    def __init__(self, status: int, code: str, message: str, *, kind: str = "TrustError") -> None:
        super().__init__(status, message)
        self.code, self.message, self.kind = code, message, kind

    @classmethod
    def of(cls, error: TrustError) -> Refused:
        return cls(error.http_status, error.code, error.message, kind=type(error).__name__)

    def response(self) -> JSONResponse:
        body = {"error": self.code, "type": self.kind, "message": self.message}
        return JSONResponse(body, status_code=self.status_code, headers={"Connection": "close"})


class Guard:
    """Limits on each request's body, as pure ASGI middleware (see the module's docstring).

    ``json_paths`` says which paths take JSON bodies (the depth limit applies); ``open_paths``
    are those whose bodies may be read before anyone is authenticated (a sign-in form).
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: Limits,
        *,
        json_paths: Callable[[str], bool] = lambda path: True,
        open_paths: Collection[str] = (),
    ) -> None:
        self.app, self.limits = app, limits
        self.json_paths, self.open_paths = json_paths, frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self, scope, receive, send)
        declared = exchange.declared_length()
        if declared is not None and declared > self.limits.max_body_bytes:
            await exchange.answer(exchange.refuse(exchange.too_large()))
            return
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Refused as exc:  # the app let it through without answering
            if exchange.started:
                raise
            if not exchange.answered:
                await exchange.answer(exchange.refused or exc)


class _Exchange:
    """One request's body as the app reads it, and the answer going back."""

    def __init__(self, guard: Guard, scope: Scope, receive: Receive, send: Send) -> None:
        self.limits, self.scope = guard.limits, scope
        self._receive, self._send = receive, send
        path = scope["path"]
        self.open = path in guard.open_paths
        self.depth = _JsonDepth(guard.limits.max_json_depth) if guard.json_paths(path) else None
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + guard.limits.body_timeout_s
        self.read = 0
        self.complete = not self._has_body()  # the whole body has been read
        self.started = False  # the app's answer has begun
        self.answered = False  # the guard's own answer was sent instead
        self.refused: Refused | None = None

    def _header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.scope["headers"] if k.lower() == name), None)

    def declared_length(self) -> int | None:
        raw = self._header(b"content-length")
        try:
            return int(raw) if raw is not None else None
        except ValueError:
            return None

    def _has_body(self) -> bool:
        return bool(self.declared_length()) or self._header(b"transfer-encoding") is not None

    # -- the request's body, as the app reads it ----------------------------------------------------
    async def receive(self) -> Message:
        if self.refused is not None:
            return {"type": "http.disconnect"}  # nothing more is read: the app may only finish
        if self.complete or self.started:
            return await self._receive()  # no body left, or waiting for a disconnect while answering
        if not self.open and ADMITTED not in self.scope:
            raise self.refuse(Refused.of(NotAuthenticated()))
        wait = min(self.limits.body_idle_timeout_s, self.deadline - self.loop.time())
        try:
            message = await asyncio.wait_for(self._receive(), max(wait, 0.0))
        except TimeoutError:
            if wait < self.limits.body_idle_timeout_s:
                why = f"took more than {self.limits.body_timeout_s:g} s to arrive"
            else:
                why = f"stalled: nothing arrived for {self.limits.body_idle_timeout_s:g} s"
            text = f"The request body {why}. Send the whole body at once, then retry."
            raise self.refuse(Refused(408, "request_timeout", text)) from None
        if message["type"] != "http.request":
            self.complete = True  # the client went away
            return message
        chunk = message.get("body", b"")
        self.read += len(chunk)
        if self.read > self.limits.max_body_bytes:
            raise self.refuse(self.too_large())
        if self.depth is not None and not self.depth.feed(chunk):
            raise self.refuse(
                Refused(
                    400,
                    "bad_request",
                    f"The JSON body is nested more than {self.limits.max_json_depth} levels deep; "
                    "the trust's requests need only a few levels.",
                )
            )
        self.complete = not message.get("more_body", False)
        return message

    def too_large(self) -> Refused:
        return Refused(
            413,
            "too_large",
            f"The request body is over {self.limits.max_body_bytes:,} bytes, the most the trust reads. "
            "Send the SQL of a query and the ids of outputs, never data.",
        )

    def refuse(self, refused: Refused) -> Refused:
        self.refused = refused
        client = self.scope.get("client")
        log.warning(
            "refused %s %s from %s after %d body bytes: %s (%d)",
            self.scope["method"],
            self.scope["path"],
            client[0] if client else "?",
            self.read,
            refused.code,
            refused.status_code,
        )
        return refused

    # -- the answer ---------------------------------------------------------------------------------
    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the guard answered; whatever the app says now goes nowhere
        if message["type"] == "http.response.start":
            if self.refused is not None:
                await self.answer(self.refused)
                return
            self.started = True
            if not self.complete:  # close rather than let the server drain a body nobody read
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await self._send(message)

    async def answer(self, refused: Refused) -> None:
        self.answered = True
        await refused.response()(self.scope, self._receive, self._send)


_JSON_TOKENS = re.compile(rb'[\[\]{}"\\]')


class _JsonDepth:
    """How deeply the JSON seen so far is nested, fed chunk by chunk; only brackets, quotes and
    backslashes are looked at, so a long string costs one regular-expression scan."""

    def __init__(self, limit: int) -> None:
        self.limit, self.depth = limit, 0
        self.in_string = False
        self.escaped = False  # the last chunk ended on a backslash inside a string

    def feed(self, chunk: bytes) -> bool:
        """False once the nesting goes past the limit."""
        if not chunk:
            return True
        skip = 0 if self.escaped else -1
        self.escaped = False
        for match in _JSON_TOKENS.finditer(chunk):
            at = match.start()
            if at == skip:
                continue
            char = chunk[at]
            if self.in_string:
                if char == 0x5C:  # backslash: the next byte is escaped
                    skip = at + 1
                    self.escaped = skip == len(chunk)
                elif char == 0x22:
                    self.in_string = False
            elif char == 0x22:
                self.in_string = True
            elif char in b"[{":
                self.depth += 1
                if self.depth > self.limit:
                    return False
            else:
                self.depth -= 1
        return True


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's line and headers.

    The clock starts when a connection opens and when the first byte of each later request on it
    arrives (between requests, uvicorn's keep-alive timeout applies), and stops once the head is in.
    """

    header_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_clock()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._start_clock()  # part of a request's head is here
        else:
            self._stop_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        super().connection_lost(exc)

    def _start_clock(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_too_slow)

    def _stop_clock(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial, _ = self.conn.trailing_data
        if partial:  # a request is on its way, too slowly: say why before closing
            log.warning(
                "closed a connection from %s: request head incomplete after %g s",
                self.client[0] if self.client else "?",
                self.header_timeout_s,
            )
            self.transport.write(_head_timeout_response(self.header_timeout_s))
        self.transport.close()


def header_timeout(seconds: float) -> type[H11Protocol]:
    """The protocol class to give ``uvicorn.Config(http=...)``, with this deadline for request heads."""
    return type("HeaderTimeout", (HeaderTimeout,), {"header_timeout_s": seconds})


def _head_timeout_response(seconds: float) -> bytes:
    body = json.dumps(
        {
            "error": "request_timeout",
            "type": "TrustError",
            "message": f"The request line and headers did not arrive within {seconds:g} s. "
            "Send them at once, then retry.",
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
