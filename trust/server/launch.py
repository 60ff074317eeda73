"""Start ``trust`` commands as real processes and wait for their ``ready`` line.

Used by the end-to-end tests, the notebook tests and the load benchmark, so all of them drive
the same processes an operator would run: ``trust departments serve`` and ``trust serve``.

    >>> with launch_departments(home, data_dir, scale=0.5) as deps, launch_trust(home) as server:  # doctest: +SKIP
    ...     client = Client(server.url, token=issue_token(home, "ana"))
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust.config import REPO_ROOT

READY_TIMEOUT_S = 90.0


@dataclass
class Running:
    process: subprocess.Popen[str]
    ready: str  # the ready line, e.g. "ready http://127.0.0.1:41234 (trust home ...)"
    log: Path  # the process's stderr
    before: tuple[str, ...] = ()  # what it printed before it was ready (e.g. datasets it could not bind)

    @property
    def url(self) -> str:
        return self.ready.split()[1]

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def trust_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``trust`` process: this checkout importable, state under ``home``."""
    # The trust home is set below; no other TRUST_ setting of this process leaks into the child's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env["TRUST_HOME"] = str(home)
    env.update(extra or {})
    return env


def trust_command(
    *args: str, home: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trust.cli", *args],
        capture_output=True,
        text=True,
        env=trust_env(home, env),
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def issue_token(home: Path, user: str) -> str:
    """A token from ``trust tokens issue`` (the command prints only the token on stdout)."""
    result = trust_command("tokens", "issue", user, home=home)
    if result.returncode != 0:
        raise RuntimeError(f"trust tokens issue {user} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def start(
    args: Sequence[str],
    *,
    home: Path,
    env: Mapping[str, str] | None = None,
    name: str = "trust",
    timeout: float = READY_TIMEOUT_S,
) -> Running:
    """Run ``trust ARGS`` and return once it prints its ready line; its stderr goes to a file."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"{name}.stderr"
    with open(log, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "trust.cli", *args],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=trust_env(home, env),
            cwd=REPO_ROOT,
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keeps reading so the process never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name=f"{name}-stdout", daemon=True).start()
    before: list[str] = []
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"`trust {' '.join(args)}` printed no ready line in {timeout:g} s; see {log}") from None
        if line is None:
            process.wait(5)
            raise RuntimeError(f"`trust {' '.join(args)}` exited with {process.returncode}: {log.read_text()[-2000:]}")
        if line.startswith("ready "):
            return Running(process, line.strip(), log, tuple(before))
        before.append(line.rstrip("\n"))


@contextmanager
def launch_departments(home: Path, data_dir: Path, *, scale: float = 0.5) -> Iterator[Running]:
    """``trust departments serve``: the four departments, and ``home`` configured to read from them."""
    running = start(
        ["departments", "serve", "--data-dir", str(data_dir), "--scale", str(scale)], home=home, name="departments"
    )
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def launch_trust(
    home: Path, *, workers: int = 8, env: Mapping[str, str] | None = None, name: str = "serve"
) -> Iterator[Running]:
    """``trust serve --port 0``: the API on a free port (``running.url``)."""
    running = start(["serve", "--port", "0", "--workers", str(workers)], home=home, env=env, name=name)
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def serve_in_thread(trust: Any, *, workers: int = 2) -> Iterator[str]:
    """``trust``'s API on a free loopback port, in a thread of this process; yields its URL.

    For tests that need the server and the ``Trust`` object side by side (one store, no process).
    """
    import time

    import uvicorn

    from trust.server.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(trust, workers=workers), host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="trust-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process trust server did not start")
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
