"""Cancelling a running query, from every place an analyst can: ``DELETE /v1/queries/{id}`` on a real
``trust serve``, Ctrl-C in ``trust query``, and an interrupted Jupyter kernel (issue 16).

DWP's data comes through a ``FaultProxy`` that trickles it out (a department that is alive but slow),
so a query is still reading when it is cancelled; the server runs one worker, so the next query runs
only if the cancelled one really gave its engine back.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import DEMO, Source
from tests.faults.proxy import FaultProxy
from tests.notebooks.test_notebooks import kernel_env
from trust.config import REPO_ROOT
from trust.demo.servers import DepartmentServers
from trust.server.launch import Running, launch_trust, trust_env
from trust.service import Trust

# Each request through the proxy ends within a few seconds (so an interrupted engine stops soon after),
# while the whole query takes several times as long.
SLOW_RATE = 10_000
LONG = "SELECT region, count(*) AS n, sum(award_amount) AS amount FROM dwp.uc_claims GROUP BY region"
WIDGET = "application/vnd.jupyter.widget-view+json"
CANCELLED = re.compile(r"^Query q-[0-9a-f]{16} cancelled; nothing was released\.$")


@dataclass
class Slowed:
    """A real ``trust serve`` (one worker) whose DWP answers through a proxy that can be slowed."""

    home: Path
    server: Running
    proxy: FaultProxy
    departments: DepartmentServers

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, user: str = "ana") -> str:
        return Trust.open(self.home).access.issue_token(user, label="tests").secret

    def dwp_bytes(self) -> int:
        return self.departments.bytes_served()["DWP"]

    def health(self, token: str) -> dict[str, Any]:
        return httpx.get(f"{self.url}/v1/health", headers=_auth(token), timeout=10).json()

    def cancelled_events(self) -> list[Any]:
        return Trust.open(self.home).audit.events(kind="query_cancelled")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:g} s: {what}")


def _settled(read: Callable[[], int], quiet_s: float = 5.0, timeout: float = 30.0) -> int:
    """``read()`` once it has not changed for ``quiet_s`` seconds (nothing is being read any more)."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    raise AssertionError("the department kept being read after the query was cancelled")


@pytest.fixture(scope="module")
def slowed(
    departments: DepartmentServers, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Slowed]:
    home = tmp_path_factory.mktemp("cancel-home")
    with FaultProxy(departments.endpoints.dwp_url, rate=SLOW_RATE) as proxy:
        Source(data_dir, departments, proxy, home).configure(department_timeout_s=30.0, query_timeout_s=120.0)
        with launch_trust(home, workers=1, name="cancel") as server:
            yield Slowed(home, server, proxy, departments)


@pytest.fixture
def slow(slowed: Slowed) -> Iterator[Slowed]:
    """DWP slow for this test (new connections trickle), and quick again after it."""
    slowed.proxy.set("slow")
    try:
        yield slowed
    finally:
        slowed.proxy.set("pass")


def _engine_stopped_and_worker_free(s: Slowed, token: str, full_query_bytes: Callable[[], int], before: int) -> None:
    """Nothing more is read from DWP, no query holds the worker, and the next query runs on it."""
    cancelled_read = _settled(s.dwp_bytes) - before
    assert s.health(token)["queries"] == {"queued": 0, "running": 0}
    s.proxy.set("pass")
    assert cancelled_read < full_query_bytes(), cancelled_read  # stopped part way, not finished quietly


def _full_query_bytes(s: Slowed, token: str) -> Callable[[], int]:
    def run() -> int:
        start = s.dwp_bytes()
        r = httpx.post(
            f"{s.url}/v1/queries", params={"wait": 10}, headers=_auth(token), json={"sql": LONG, "project": DEMO}
        )
        assert r.status_code == 200, r.text  # the next query runs, on the one worker
        return s.dwp_bytes() - start

    return run


def test_delete_cancels_a_running_query_on_the_real_server(slow: Slowed):
    token = slow.token()
    outputs_before = httpx.get(f"{slow.url}/v1/outputs", headers=_auth(token), timeout=10).json()["outputs"]
    before = slow.dwp_bytes()
    r = httpx.post(
        f"{slow.url}/v1/queries", params={"wait": 0}, headers=_auth(token), json={"sql": LONG, "project": DEMO}
    )
    assert r.status_code == 202, r.text
    query = r.json()["query"]

    def reading() -> dict[str, Any] | None:  # at the reading stage, and DWP's own server has sent it data
        state = httpx.get(f"{slow.url}/v1/queries/{query}", params={"wait": 0.5}, headers=_auth(token)).json()
        return state if state.get("stage") == "reading" and slow.dwp_bytes() > before else None

    state = _until(reading, 60, "the query reads DWP's data")
    assert state["stages"][:4] == ["queued", "policy", "waiting", "reading"]

    # Only the query's own analyst may cancel it: anyone else is told it does not exist.
    other = httpx.delete(f"{slow.url}/v1/queries/{query}", headers=_auth(slow.token("bob")), timeout=30)
    assert other.status_code == 404 and other.json()["error"] == "unknown_name"

    started = time.monotonic()
    r = httpx.delete(f"{slow.url}/v1/queries/{query}", headers=_auth(token), timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "cancelled" and body["stage"] == "cancelled"
    assert CANCELLED.match(body["message"]) and query in body["message"]
    assert time.monotonic() - started < 5  # answered at once, not when the read in flight ends

    poll = httpx.get(f"{slow.url}/v1/queries/{query}", headers=_auth(token), timeout=10)
    assert poll.status_code == 409 and poll.json()["error"] == "query_cancelled"
    again = httpx.delete(f"{slow.url}/v1/queries/{query}", headers=_auth(token), timeout=10)
    assert again.status_code == 200 and again.json()["state"] == "cancelled"  # idempotent

    events = [e for e in slow.cancelled_events() if e.payload.get("query") == query]
    assert len(events) == 1
    assert events[0].actor == "ana" and events[0].payload["stage"] == "reading" and events[0].payload["via"] == "api"
    outputs_after = httpx.get(f"{slow.url}/v1/outputs", headers=_auth(token), timeout=10).json()["outputs"]
    assert outputs_after == outputs_before  # nothing was made

    _engine_stopped_and_worker_free(slow, token, _full_query_bytes(slow, token), before)


def test_ctrl_c_in_trust_query_cancels_with_one_line(slow: Slowed):
    """``trust query`` in a terminal (a pty): its progress shows the stages; SIGINT stops the query."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal's size
    process = subprocess.Popen(
        [sys.executable, "-m", "trust.cli", "query", "--user", "ana", "--project", DEMO, LONG],
        stdout=subprocess.PIPE,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
        env=trust_env(slow.home),
        cwd=REPO_ROOT,
    )
    os.close(secondary)
    seen = b""

    def read_terminal(timeout: float = 0.2) -> bytes:
        nonlocal seen
        if select.select([primary], [], [], timeout)[0]:
            try:
                seen += os.read(primary, 65536)
            except OSError:  # the process closed the terminal
                pass
        return seen

    try:
        reading = rb"reading, [0-9]+\.[0-9] s"  # the stage and the time, never bytes read
        try:
            _until(lambda: re.search(reading, read_terminal()), 90, "`trust query` shows it reading")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the terminal showed {seen[-500:]!r}") from None
        at = slow.dwp_bytes()  # and DWP's own server sends it data (the terminal is read meanwhile)
        _until(lambda: read_terminal() and slow.dwp_bytes() > at, 60, "the query reads DWP's data")
        assert not re.search(rb"[0-9.]+ [kMG]?B\b", seen), seen[-500:]  # no byte count on the terminal
        before_events = len(slow.cancelled_events())
        process.send_signal(signal.SIGINT)
        _until(lambda: read_terminal() and process.poll() is not None, 30, "`trust query` exits")
        while len(seen) != len(read_terminal(0.5)):  # what it wrote last
            pass
        assert process.stdout is not None
        out = process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert process.returncode == 130
    assert out == b""  # no table, no output id
    text = seen.decode(errors="replace")
    assert "policy decision" in text or "reading" in text  # the stages, as they came
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    assert CANCELLED.match(lines[-1]), lines[-3:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    events = slow.cancelled_events()
    assert len(events) == before_events + 1 and events[-1].payload["via"] == "interrupt"
    assert events[-1].payload["query"] in lines[-1]


def test_interrupting_a_jupyter_kernel_cancels_the_query_on_the_server(slow: Slowed, monkeypatch: pytest.MonkeyPatch):
    from jupyter_client.manager import KernelManager

    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")]).rstrip(
            os.pathsep
        ),
    )
    token = slow.token()
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=kernel_env(slow.url, token), cwd=str(REPO_ROOT))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        _run(kc, f"import trust\nclient = trust.Client(project={DEMO!r})\nclient.me()['user']")
        before = slow.dwp_bytes()
        msg_id = kc.execute(f"out = client.sql({LONG!r})")
        # The progress bar is a widget (tqdm's ipywidgets bar), not text in the cell.
        shown = _iopub_until(kc, msg_id, lambda m: WIDGET in m["content"].get("data", {}), 60)
        assert slow.health(token)["queries"]["running"] == 1
        _until(lambda: slow.dwp_bytes() > before, 60, "the query reads DWP's data")
        km.interrupt_kernel()
        reply, outputs = _collect(kc, msg_id, timeout=60)
        outputs = shown + outputs
        assert reply["content"]["status"] == "error"
        errors = [o for o in outputs if o["msg_type"] == "error"]
        assert len(errors) == 1 and errors[0]["content"]["ename"] == "QueryCancelled", errors
        assert CANCELLED.match(errors[0]["content"]["evalue"])
        traceback = "\n".join(errors[0]["content"]["traceback"])
        assert "Traceback" not in traceback and "KeyboardInterrupt" not in traceback  # one line, not a traceback
        assert not [o for o in outputs if o["msg_type"] == "stream" and "Traceback" in o["content"]["text"]]

        query = re.search(r"q-[0-9a-f]{16}", errors[0]["content"]["evalue"]).group(0)  # type: ignore[union-attr]
        events = [e for e in slow.cancelled_events() if e.payload.get("query") == query]
        assert len(events) == 1 and events[0].payload["via"] == "api" and events[0].actor == "ana"
        _engine_stopped_and_worker_free(slow, token, _full_query_bytes(slow, token), before)
        # and the kernel's next query runs, on the same client
        reply, outputs = _run(kc, f"client.sql({LONG!r}).table.num_rows")
        assert reply["content"]["status"] == "ok"
        assert any(o["msg_type"] == "execute_result" for o in outputs)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc: Any, code: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reply, outputs = _collect(kc, kc.execute(code), timeout)
    assert reply["content"]["status"] == "ok", outputs
    return reply, outputs


def _iopub_until(
    kc: Any, msg_id: str, wanted: Callable[[dict[str, Any]], bool], timeout: float
) -> list[dict[str, Any]]:
    """The cell's iopub messages up to the first that is ``wanted``."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append(msg)
        if wanted(msg):
            return seen
    raise AssertionError(f"not within {timeout:g} s: {[m['msg_type'] for m in seen]}")


def _collect(kc: Any, msg_id: str, timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The execute reply for ``msg_id`` and every iopub message the cell produced."""
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    outputs: list[dict[str, Any]] = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return reply, outputs
        outputs.append(msg)
