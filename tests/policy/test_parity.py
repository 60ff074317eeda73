"""Parity with a real OPA: every policy case decides the same in regopy and in `opa run --server`,
and the Rego unit tests pass under `opa test`. Skipped, with the reason, when `opa` is not on PATH;
the wire format is covered either way by test_opa_wire.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from trust.catalog import load_catalog
from trust.config import REPO_ROOT
from trust.policy.cases import all_cases
from trust.policy.embedded import policy_data, policy_modules, test_modules
from trust.policy.opa import OpaPolicy

POLICIES = REPO_ROOT / "policies"
OPA = shutil.which("opa")
pytestmark = pytest.mark.skipif(
    OPA is None,
    reason="no `opa` binary on PATH: install OPA (https://www.openpolicyagent.org/docs/#running-opa) to run the "
    "regopy/OPA parity test; test_opa_wire.py covers the wire format without it",
)
CASES = all_cases(
    Path(__file__).parent / "cases", load_catalog(REPO_ROOT / "catalog"), policy_data(POLICIES)["projects"]
)


def opa_layout(directory: Path, out: Path) -> Path:
    """The policy as OPA loads a directory: modules as they are, ``data/<stem>.json`` at ``<stem>/data.json``."""
    for path in policy_modules(directory) + test_modules(directory):
        target = out / path.relative_to(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    for stem, value in policy_data(directory).items():
        (out / stem).mkdir(parents=True, exist_ok=True)
        (out / stem / "data.json").write_text(json.dumps(value))
    return out


@pytest.fixture(scope="module")
def opa_server() -> Iterator[OpaPolicy]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [OPA, "run", "--server", "--addr", f"127.0.0.1:{port}", "--log-level", "error"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "opa did not start"
            time.sleep(0.05)
        policy = OpaPolicy(f"http://127.0.0.1:{port}")
        policy.publish(POLICIES)
        yield policy
        policy.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_opa_and_regopy_decide_the_same(opa_server, embedded, case):
    from_opa = opa_server.decide(case.document)
    assert from_opa.to_json() == embedded.decide(case.document).to_json()
    assert case.mismatches(from_opa) == []


def test_rego_unit_tests_pass_under_opa_test(tmp_path):
    layout = opa_layout(POLICIES, tmp_path / "policies")
    out = subprocess.run([OPA, "test", str(layout), "-v"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
