"""The magics in a fresh Jupyter kernel (nbclient), as an analyst meets them: the docs' lines as
written, ``%trust_connect client`` before and after ``client`` exists, and ``{name}`` parameters.

The kernel is a separate process that knows the server only by ``TRUST_URL`` and ``TRUST_TOKEN``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from trust.config import REPO_ROOT


def _kernel_env(url: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env.update(TRUST_URL=url, TRUST_TOKEN=token)
    return env


def run_cells(sources: list[str], url: str, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each cell's outputs as one string (text and HTML), run in order in a new kernel; no cell may fail."""
    # This environment's 'python3' kernel, whatever kernelspecs the user has (as tests/notebooks does).
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(
        nb, kernel_name="python3", timeout=60, allow_errors=False, resources={"metadata": {"path": str(tmp_path)}}
    ).execute(env=_kernel_env(url, token))
    return [
        "".join(
            o.get("text", "") + o.get("data", {}).get("text/html", "") + json.dumps(o.get("ename", ""))
            for o in c.outputs
        )
        for c in nb.cells
    ]


def docs_jupyter_cells() -> list[str]:
    """The first code block under "## Jupyter" in docs/server.md, as the cells a person would make of it."""
    text = (REPO_ROOT / "docs" / "server.md").read_text()
    block = text.split("## Jupyter", 1)[1].split("```", 2)[1]
    cells: list[str] = []
    for line in block.strip("\n").splitlines():
        if line.startswith("%") or not cells:
            cells.append(line)
        else:
            cells[-1] += "\n" + line  # the SQL of a %%trust cell
    return cells


def test_the_docs_lines_work_as_written_in_a_fresh_kernel(
    live_url: str, ana_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cells = docs_jupyter_cells()
    assert cells[0] == "%load_ext trust" and cells[1].startswith("%trust_connect")
    shown = dict(zip(cells, run_cells(cells, live_url, ana_token, tmp_path, monkeypatch)))
    assert "connected to" in shown[cells[1]] and "project demo-employment-support" in shown[cells[1]]
    trust_cell = next(c for c in cells if c.startswith("%%trust"))
    assert "trust-output" in shown[trust_cell] and "rows scanned" in shown[trust_cell]
    assert "dwp.uc_claims" in shown[next(c for c in cells if c.startswith("%trust_catalog"))]
    assert "out-" in shown[next(c for c in cells if c.startswith("%trust_outputs"))]
    assert not [c for c, out in shown.items() if 'class="trust-refused"' in out or "UsageError" in out]


def test_trust_connect_client_in_a_fresh_kernel(
    live_url: str, ana_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cells = [
        "%load_ext trust",
        "%trust_connect client",
        "import os\nimport trust\n\nclient = trust.Client(os.environ['TRUST_URL'], token=os.environ['TRUST_TOKEN'],\n"
        "                      project='demo-employment-support')",
        "%trust_connect client",
        "regions = ['E12000009', 'E12000007']\nfloor = 100",
        "%%trust -o by_region\nSELECT region, count(*) AS claimants FROM dwp.uc_claims\n"
        "WHERE region IN {regions} AND award_amount > {floor} GROUP BY region ORDER BY region",
        "print(by_region.sql.splitlines()[1])\nprint(sorted(by_region.to_pandas()['region']))",
        "%%trust\nSELECT count(*) AS n FROM dwp.uc_claims WHERE region = {nowhere}",
    ]
    shown = run_cells(cells, live_url, ana_token, tmp_path, monkeypatch)
    assert (
        "No variable `client` in this notebook: create one with `client = trust.Client(...)` "
        "or give the server&#x27;s URL: `%trust_connect https://...`"
    ) in shown[1]
    assert "could not be reached" not in shown[1]
    assert "connected to" in shown[3] and "<b>ana</b>" in shown[3]
    assert "WHERE region IN ('E12000009', 'E12000007') AND award_amount > 100 GROUP BY" in shown[6]
    assert "['E12000007', 'E12000009']" in shown[6]
    assert "No variable `nowhere` in this notebook" in shown[7] and "Traceback" not in "".join(shown)
