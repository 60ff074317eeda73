"""Every notebook in notebooks/ runs top to bottom against a real trust server, with no error cell.

The departments and ``trust serve`` run as processes; the notebook runs in a Jupyter kernel of
this interpreter (nbclient), which knows the server only by ``TRUST_URL`` and ``TRUST_TOKEN``.
"Run All" must finish without anyone else: no output checker acts while it runs, and a cell that
waited for one would pass the per-cell time limit and fail. Afterwards two checkers (carol and
dev) approve the release request through the server's API, as people would through their pages,
and the walkthrough's status and download cells, run again in the same kernel, reach the released file.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from trust.client import Client
from trust.config import REPO_ROOT
from trust.server.launch import issue_token, launch_departments, launch_trust

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 120  # far less than a review takes people; a cell that waited for one fails here


@pytest.fixture(scope="module")
def server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """The server's URL, the analyst's token, and two output checkers' tokens (not yet acting)."""
    home = tmp_path_factory.mktemp("notebook-trust-home")
    scale = float(json.loads((data_dir / ".complete").read_text())["scale"])
    with launch_departments(home, data_dir, scale=scale), launch_trust(home) as running:
        yield running.url, issue_token(home, "ana"), [issue_token(home, "carol"), issue_token(home, "dev")]


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


def _text(cells: list[nbformat.NotebookNode]) -> str:
    return json.dumps([o for c in cells if c.cell_type == "code" for o in c.outputs])


def _html(cells: list[nbformat.NotebookNode]) -> str:
    outputs = [o for c in cells if c.cell_type == "code" for o in c.outputs]
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


def _seconds(cells: list[nbformat.NotebookNode]) -> dict[int, float]:
    """How long each code cell ran, from nbclient's timing metadata."""
    out = {}
    for i, c in enumerate(cells):
        timing = c.get("metadata", {}).get("execution", {})
        if c.cell_type == "code" and "shell.execute_reply" in timing:
            start, end = (datetime.fromisoformat(timing[k]) for k in ("iopub.execute_input", "shell.execute_reply"))
            out[i] = (end - start).total_seconds()
    return out


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["analyst-walkthrough.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_clean(
    path: Path, server: tuple[str, str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url, token, checker_tokens = server
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
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with client.setup_kernel(env=kernel_env(url, token)):
        for index, cell in enumerate(nb.cells):  # "Run All", with no one else acting
            client.execute_cell(cell, index)
        first_run = nbformat.from_dict(json.loads(json.dumps(nb.cells)))
        text, html = _text(first_run), _html(first_run)
        assert "Traceback" not in text and '"output_type": "error"' not in text
        if path.stem == "analyst-walkthrough":
            assert "trust-suppressed" in html and "[c]" in html  # the dominated turnover
            assert "Refused by policy" in html  # the denial, as a message
            assert "rows scanned" in html and "cells:" in html
            assert "withheld for" in text and "sum of the published turnover" in text  # pandas over [c] cells
            assert "trust-release" in html  # the request, as submitted
            assert "submitted: waiting for two output checkers (0 of 2 reviews done)" in text
            assert "Come back later and run this cell again, or run client.wait_for_release(" in text
            assert "nothing has left the trust yet" in text
            slow = {i: s for i, s in _seconds(first_run).items() if "release" in nb.cells[i].source and s > 10}
            assert slow == {}, "a release cell waited (for checkers?)"
            with Client(url, token=token, progress=False) as ana:
                (request,) = ana.releases()
                assert request.state.value == "submitted" and not request.reviews  # no one acted, no one was awaited
                # Later, the checkers do their work; the analyst runs the last cells again.
                with checkers(url, checker_tokens):
                    released = ana.wait_for_release(request.id, timeout=60, every=0.3)
                assert released.state.value == "released", released.state
            for index, cell in enumerate(nb.cells):
                if "client.release(release.id)" in cell.source:
                    client.execute_cell(cell, index)
            text = _text(nb.cells)
            assert "released: the bundle is ready" in text and "manifest verified" in text  # the journey's end
    (tmp_path / path.name).write_text(nbformat.writes(nb))  # the executed copy, for a person to look at
