"""The server holds, however a request arrives: bodies too big (chunked or declared), heads and
bodies sent too slowly, JSON nested too deep or malformed, bodies sent before anyone signed in,
and ids of other projects' outputs and requests probed for.

One ``trust serve`` process for the module, over a home with users and stored outputs (and the
departments, since a server is ready only when it can serve a dataset), with one- and two-second limits so the slow clients are
cut off quickly. The slow and oversized requests are written on raw sockets, byte by byte where
that is the point.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from trust.config import Config
from trust.demo.environment import configure_home, seed_users
from trust.demo.servers import DepartmentServers
from trust.errors import ConfigurationError
from trust.server.guard import MAX_BODY_BYTES, MAX_JSON_DEPTH, Guard, Limits, _JsonDepth, admit
from trust.server.launch import Running, launch_trust
from trust.service import Trust

from ..outputs.conftest import JUSTIFICATION, OTHER_PROJECT, store_output

HEADER_S, IDLE_S, BODY_S = 1.0, 1.0, 2.0
ANSWER_WITHIN_S = 8.0  # a protection that is missing shows as no answer in this time


@dataclass
class Served:
    home: Path
    server: Running
    tokens: dict[str, str]
    ana_output: str
    bob_output: str
    bob_request: str

    @property
    def address(self) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(self.server.url)
        assert parts.hostname and parts.port
        return parts.hostname, parts.port

    def bearer(self, user: str) -> str:
        return f"Bearer {self.tokens[user]}"

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": self.bearer(user)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, departments: DepartmentServers) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("guard-home")
    configure_home(home, departments.endpoints)
    t = Trust.open(home)
    seed_users(t)
    ana_out, bob_out = store_output(t), store_output(t, user="bob", project=OTHER_PROJECT)
    request = t.airlock.request("bob", [bob_out.id], JUSTIFICATION)
    tokens = {u: t.access.issue_token(u, label="guard tests").secret for u in ("ana", "bob", "carol")}
    env = {
        "TRUST_HEADER_TIMEOUT_S": str(HEADER_S),
        "TRUST_BODY_IDLE_TIMEOUT_S": str(IDLE_S),
        "TRUST_BODY_TIMEOUT_S": str(BODY_S),
    }
    with launch_trust(home, workers=1, env=env, name="guarded") as server:
        yield Served(home, server, tokens, ana_out.id, bob_out.id, request.id)


# -- raw HTTP ----------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def json(self) -> dict[str, object]:
        parsed = json.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed


def connect(served: Served) -> socket.socket:
    sock = socket.create_connection(served.address, timeout=ANSWER_WITHIN_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def head(method: str, path: str, **headers: str) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: trust.test",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock: socket.socket) -> Answer:
    """One HTTP response from ``sock``; fails if none arrives within ``ANSWER_WITHIN_S``."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"no answer within {ANSWER_WITHIN_S} s (got {data[:200]!r})")
        if not chunk:
            pytest.fail(f"the connection closed without an answer (got {data[:200]!r})")
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body[:length])


def closes(sock: socket.socket) -> bool:
    """True once the server closes the connection (nothing more comes)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def trickle(sock: socket.socket, data: bytes, every_s: float, stop: threading.Event) -> threading.Thread:
    """Send ``data`` a byte at a time, ``every_s`` apart, until done, stopped or cut off."""

    def run() -> None:
        for i in range(len(data)):
            if stop.wait(every_s):
                return
            try:
                sock.sendall(data[i : i + 1])
            except OSError:
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_problem(answer: Answer, status: int, code: str, *words: str, kind: str = "TrustError") -> None:
    assert answer.status == status, answer
    body = answer.json()
    assert body["error"] == code and body["type"] == kind, body
    for word in words:
        assert word in str(body["message"]), body


# -- body size ---------------------------------------------------------------------------------------
def test_a_chunked_body_over_the_limit_is_refused_before_it_ends(served: Served):
    """No Content-Length to check: the guard counts the bytes as they come, and answers at the limit
    without waiting for the rest (the body here never ends)."""
    with connect(served) as sock:
        sock.sendall(
            head(
                "POST",
                "/v1/queries",
                Authorization=served.bearer("ana"),
                Content_Type="application/json",
                Transfer_Encoding="chunked",
            )
        )
        piece, sent = b"x" * 65536, 0
        while sent <= MAX_BODY_BYTES:
            part = piece[: MAX_BODY_BYTES + 1 - sent]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            sent += len(part)
        answer = read_answer(sock)
        assert_problem(answer, 413, "too_large", f"{MAX_BODY_BYTES:,} bytes")
        assert answer.headers.get("connection") == "close"
        assert closes(sock)  # the rest is not drained


def test_a_declared_length_over_the_limit_is_refused_unread(served: Served):
    with connect(served) as sock:
        sock.sendall(head("POST", "/v1/queries", Content_Type="application/json", Content_Length="5000000"))
        assert_problem(read_answer(sock), 413, "too_large")
        assert closes(sock)


def test_a_streamed_body_over_the_limit_is_refused_through_httpx(served: Served):
    def body() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no Content-Length
        for _ in range(MAX_BODY_BYTES // 50_000 + 1):
            yield b" " * 50_000

    r = httpx.post(
        f"{served.server.url}/v1/releases",
        content=body(),
        headers={**served.auth("ana"), "Content-Type": "application/json"},
        timeout=ANSWER_WITHIN_S,
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"


# -- slow clients ------------------------------------------------------------------------------------
def test_a_slow_request_head_is_cut_off(served: Served):
    with connect(served) as sock:
        stop = threading.Event()
        started = time.monotonic()
        trickle(sock, head("GET", "/v1/health", X_Padding="p" * 200), 0.25, stop)
        answer = read_answer(sock)
        stop.set()
        assert_problem(answer, 408, "request_timeout", "headers", f"{HEADER_S:g} s")
        assert time.monotonic() - started < HEADER_S + 3
        assert closes(sock)


def test_a_slow_head_on_a_kept_alive_connection_is_cut_off(served: Served):
    """The clock restarts with each request on a connection, once its first byte arrives; a JSON
    body that was read in full keeps the connection open for the next request."""
    with connect(served) as sock:
        body = b'{"outputs": "not a list"}'
        sock.sendall(
            head(
                "POST",
                "/v1/releases",
                Authorization=served.bearer("ana"),
                Content_Type="application/json",
                Content_Length=str(len(body)),
            )
            + body
        )
        first = read_answer(sock)
        assert first.status == 400 and first.headers.get("connection") != "close"
        stop = threading.Event()
        trickle(sock, head("GET", "/v1/health"), 0.25, stop)
        answer = read_answer(sock)
        stop.set()
        assert_problem(answer, 408, "request_timeout", "headers")


def test_a_silent_connection_is_closed_without_an_answer(served: Served):
    with connect(served) as sock:
        started = time.monotonic()
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < HEADER_S + 3


def test_a_stalled_body_is_cut_off(served: Served):
    with connect(served) as sock:
        sock.sendall(
            head(
                "POST",
                "/v1/releases",
                Authorization=served.bearer("ana"),
                Content_Type="application/json",
                Content_Length="200",
            )
            + b'{"outputs": ['
        )
        answer = read_answer(sock)
        assert_problem(answer, 408, "request_timeout", "stalled", f"{IDLE_S:g} s")
        assert closes(sock)


def test_a_trickled_body_is_cut_off_at_its_deadline(served: Served):
    """Never idle long enough for the stall limit, but too slow in all."""
    with connect(served) as sock:
        sock.sendall(
            head(
                "POST",
                "/v1/releases",
                Authorization=served.bearer("ana"),
                Content_Type="application/json",
                Content_Length="200",
            )
        )
        stop = threading.Event()
        started = time.monotonic()
        trickle(sock, b" " * 200, IDLE_S / 4, stop)
        answer = read_answer(sock)
        stop.set()
        assert_problem(answer, 408, "request_timeout", f"more than {BODY_S:g} s")
        assert BODY_S - 0.5 < time.monotonic() - started < BODY_S + 3


# -- JSON --------------------------------------------------------------------------------------------
def _post_json(served: Served, path: str, content: bytes) -> httpx.Response:
    headers = {**served.auth("ana"), "Content-Type": "application/json"}
    return httpx.post(f"{served.server.url}{path}", content=content, headers=headers, timeout=ANSWER_WITHIN_S)


def test_deeply_nested_json_is_a_clear_400(served: Served):
    deep = _post_json(served, "/v1/queries", b"[" * 100_000 + b"]" * 100_000)
    assert deep.status_code == 400 and deep.json() == {
        "error": "bad_request",
        "type": "TrustError",
        "message": f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; "
        "the trust's requests need only a few levels.",
    }
    # At the limit the guard lets it through, to be refused for what it is; brackets in strings do not count.
    at_limit = _post_json(served, "/v1/releases", b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    quoted = {"outputs": ["[" * 1000 + '\\"['], "justification": JUSTIFICATION}
    for r in (at_limit, _post_json(served, "/v1/releases", json.dumps(quoted).encode())):
        assert r.status_code in (400, 404) and "nested" not in r.json()["message"], r.text


def test_malformed_json_names_the_problem_without_echoing_it(served: Served):
    r = _post_json(served, "/v1/queries", b'{"sql": "SELECT secret_column", project: 1}')
    assert_problem(Answer(r.status_code, {}, r.content), 400, "bad_request", "not valid JSON", "Expecting")
    assert "secret_column" not in r.text
    r = _post_json(served, "/v1/releases", b'{"outputs": [' + b"1" * 5000 + b"]}")  # beyond what Python parses
    assert_problem(Answer(r.status_code, {}, r.content), 400, "bad_request", "JSON")


@pytest.mark.parametrize(
    ("chunks", "depth"),
    [
        ([b'{"a": "\\\\"', b', "b": [[[['], 5),  # an escaped backslash ends the string: these brackets count
        ([b'{"a": "\\', b'"[[[[[", "b": 1}'], 0),  # an escaped quote split across chunks stays in the string
        ([b'"[[[[[[[[[[" ', b"[[[["], 4),
        ([b'["\\', b"", b'"[[[[[["]'], 0),  # an empty chunk between a backslash and what it escapes
    ],
)
def test_the_depth_count_follows_strings_across_chunks(chunks: list[bytes], depth: int):
    counter = _JsonDepth(4)
    fed = [counter.feed(c) for c in chunks]
    assert counter.depth == depth and all(fed) == (depth <= 4)


def test_the_limits_are_settings_and_must_be_positive(tmp_path: Path):
    limits = Limits.from_config(Config.load(tmp_path, environ={"TRUST_BODY_TIMEOUT_S": "12.5"}))
    assert (limits.header_timeout_s, limits.body_idle_timeout_s, limits.body_timeout_s) == (10.0, 10.0, 12.5)
    with pytest.raises(ConfigurationError, match="TRUST_HEADER_TIMEOUT_S"):
        Limits.from_config(Config.load(tmp_path, environ={"TRUST_HEADER_TIMEOUT_S": "0"}))


# -- authentication before the body --------------------------------------------------------------------
def test_an_unauthenticated_body_is_not_read(served: Served):
    """A large body (declared, never sent) to the API without a token, or to a checker's form without
    a session: refused at once. Had the server waited to read it, the answer would be a 408."""
    with connect(served) as sock:
        sock.sendall(head("POST", "/v1/queries", Content_Type="application/json", Content_Length="900000"))
        answer = read_answer(sock)
        assert_problem(answer, 401, "not_authenticated", kind="NotAuthenticated")
        assert answer.headers.get("connection") == "close" and closes(sock)
    with connect(served) as sock:
        sock.sendall(
            head(
                "POST",
                "/checker/requests/rel-000000000000/review",
                Content_Type="application/x-www-form-urlencoded",
                Content_Length="900000",
                Cookie="trust_checker=forged-or-expired",
            )
            + b"csrf=x&decision-"
        )
        answer = read_answer(sock)
        assert answer.status == 303 and answer.headers["location"].startswith("/checker/login")
        assert answer.headers.get("connection") == "close" and closes(sock)


@pytest.fixture(scope="module")
def careless_app() -> Iterator[tuple[str, int]]:
    """A route that reads its body without asking who is calling, behind the guard; and one that
    authenticates first. In this process, under uvicorn on loopback."""

    async def careless(request: Request) -> JSONResponse:
        return JSONResponse({"read": len(await request.body())})

    async def careful(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer ok":
            return JSONResponse({"error": "not_authenticated"}, status_code=401)
        admit(request.scope, "someone")
        return JSONResponse({"read": len(await request.body())})

    app = Starlette(
        routes=[Route("/careless", careless, methods=["POST"]), Route("/careful", careful, methods=["POST"])]
    )
    config = uvicorn.Config(
        Guard(app, Limits(body_idle_timeout_s=IDLE_S, body_timeout_s=BODY_S)),
        host="127.0.0.1",
        port=0,
        log_config=None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[:2]
    server.should_exit = True
    thread.join(10)


def test_the_guard_gives_no_body_to_a_route_that_did_not_authenticate(careless_app: tuple[str, int]):
    url = "http://{}:{}".format(*careless_app)
    r = httpx.post(f"{url}/careless", content=b"x" * 1000, timeout=ANSWER_WITHIN_S)
    assert r.status_code == 401 and r.json()["error"] == "not_authenticated" and "read" not in r.json()
    assert httpx.post(f"{url}/careful", content=b"x" * 1000, timeout=ANSWER_WITHIN_S).status_code == 401
    r = httpx.post(f"{url}/careful", content=b"x" * 1000, headers={"Authorization": "Bearer ok"})
    assert r.status_code == 200 and r.json() == {"read": 1000}


# -- ids of other projects ---------------------------------------------------------------------------
def _same_answer(forbidden: httpx.Response, missing: httpx.Response, real_id: str, fake_id: str) -> None:
    assert forbidden.status_code == missing.status_code == 404, (forbidden.text, missing.text)
    f, m = forbidden.json(), missing.json()
    assert f.keys() == m.keys() and f["error"] == m["error"] == "unknown_name"
    assert f["message"].replace(real_id, "ID") == m["message"].replace(fake_id, "ID"), (f, m)
    assert json.dumps(f).replace(real_id, "ID") == json.dumps(m).replace(fake_id, "ID")


def test_another_projects_output_is_answered_as_one_that_does_not_exist(served: Served):
    fake = "out-000000000000"
    with httpx.Client(base_url=served.server.url, headers=served.auth("ana"), timeout=ANSWER_WITHIN_S) as ana:
        assert ana.get(f"/v1/outputs/{served.ana_output}").status_code == 200
        _same_answer(
            ana.get(f"/v1/outputs/{served.bob_output}"), ana.get(f"/v1/outputs/{fake}"), served.bob_output, fake
        )
        asks = [
            ana.post("/v1/releases", json={"outputs": [o], "justification": JUSTIFICATION})
            for o in (served.bob_output, fake)
        ]
        _same_answer(*asks, served.bob_output, fake)
    denied = Trust.open(served.home).audit.events(kind="access_denied")
    assert any(e.actor == "ana" and e.payload.get("output") == served.bob_output for e in denied)
    assert not any(e.payload.get("output") == fake for e in denied)


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("GET", "/v1/releases/{}", None),
        ("PATCH", "/v1/releases/{}", {"justification": JUSTIFICATION}),
        ("POST", "/v1/releases/{}/submit", None),
        ("POST", "/v1/releases/{}/withdraw", None),
        ("POST", "/v1/releases/{}/reviews", {"decisions": {}}),
        ("GET", "/v1/releases/{}/bundle", None),
    ],
)
def test_another_projects_release_request_is_answered_as_one_that_does_not_exist(
    served: Served, method: str, route: str, body: dict[str, object] | None
):
    fake = "rel-000000000000"
    with httpx.Client(base_url=served.server.url, headers=served.auth("ana"), timeout=ANSWER_WITHIN_S) as ana:
        forbidden, missing = (ana.request(method, route.format(i), json=body) for i in (served.bob_request, fake))
    _same_answer(forbidden, missing, served.bob_request, fake)
    with httpx.Client(base_url=served.server.url, headers=served.auth("bob"), timeout=ANSWER_WITHIN_S) as bob:
        assert bob.get(f"/v1/releases/{served.bob_request}").status_code == 200  # still there, untouched
        assert bob.get(f"/v1/releases/{served.bob_request}").json()["state"] == "submitted"
