"""Every notebook in notebooks/ runs top to bottom against a real trust server, with no error cell.

The departments and ``trust serve`` run as processes; the notebook runs in a Jupyter kernel of
this interpreter (nbclient), which knows the server only by ``TRUST_URL`` and ``TRUST_TOKEN``.
Two output checkers (carol and dev) approve whatever release request the analyst submits, through
the server's API, as people would through their pages.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from trust.client import Client
from trust.config import REPO_ROOT
from trust.server.launch import issue_token, launch_departments, launch_trust

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home = tmp_path_factory.mktemp("notebook-trust-home")
    scale = float(json.loads((data_dir / ".complete").read_text())["scale"])
    with (
        launch_departments(home, data_dir, scale=scale),
        launch_trust(home) as running,
        checkers(running.url, [issue_token(home, "carol"), issue_token(home, "dev")]),
    ):
        yield running.url, issue_token(home, "ana")


@contextmanager
def checkers(url: str, tokens: list[str]) -> Iterator[None]:
    """Output checkers who approve every output of every request waiting for them, each once."""
    stop = threading.Event()

    def work() -> None:
        clients = [Client(url, token=t, progress=False) for t in tokens]
        names = [c.me()["user"] for c in clients]
        while not stop.wait(0.3):
            for client, name in zip(clients, names):
                for request in client.releases(state="submitted,under_review"):
                    if name not in request.reviewers_this_round:
                        client.review_release(
                            request.id, {o: ("approve", "Checked in the notebook test.") for o in request.output_ids}
                        )
        for client in clients:
            client.close()

    thread = threading.Thread(target=work, name="checkers", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def kernel_env(url: str, token: str) -> dict[str, str]:
    """What an analyst's kernel has: the server's address and a token, and no trust state of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env.update(TRUST_URL=url, TRUST_TOKEN=token)
    return env


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["analyst-walkthrough.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(path: Path, server: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url, token = server
    # The 'python3' kernel of this environment, even if the user has their own 'python3' kernelspec;
    # jupyter_client starts a kernelspec's bare 'python' as sys.executable.
    monkeypatch.setenv(
        "JUPYTER_PATH",
        os.pathsep.join([str(Path(sys.prefix) / "share" / "jupyter"), os.environ.get("JUPYTER_PATH", "")]).rstrip(
            os.pathsep
        ),
    )
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, allow_errors=False, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=kernel_env(url, token))
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o for o in outputs])
    assert "Traceback" not in text
    if path.stem == "analyst-walkthrough":
        html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
        assert "trust-suppressed" in html and "[c]" in html  # the small area
        assert "Refused by policy" in html  # the denial, as a message
        assert "rows scanned" in html and "cells:" in html
        assert "trust-release" in html  # the request, as submitted
        assert "released: the bundle is ready" in text and "manifest verified" in text  # the journey's end
    (tmp_path / path.name).write_text(nbformat.writes(nb))  # the executed copy, for a person to look at
