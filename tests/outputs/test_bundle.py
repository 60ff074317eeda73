"""The release bundle: every file the issue asks for, nothing that must stay inside, and a
manifest that catches any change; built in one step so a crash leaves no half bundle.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from trust.outputs import bundle as bundles
from trust.outputs.release import ReleaseState
from trust.sdc.report import SUPPRESSED_MARKER
from trust.service import Trust

from .conftest import JUSTIFICATION, MakeOutput


@pytest.fixture
def released(offline: Trust, make_output: MakeOutput):
    a = make_output(statuses={1: "suppressed", 3: "review"})
    b = make_output()
    request = offline.airlock.request(
        "ana", [a.id, b.id], JUSTIFICATION, cell_reasons={a.id: {(3, "claimants"): "Refunds, not individual amounts."}}
    )
    approve = {a.id: ("approve", "Fine."), b.id: ("approve", "")}
    offline.airlock.review("carol", request.id, approve)
    done = offline.airlock.review("dev", request.id, approve)
    assert done.state is ReleaseState.RELEASED
    return done, a, b, offline.airlock.archive("ana", done.id).parent


def test_the_bundle_holds_everything_for_each_output(released):
    request, a, b, folder = released
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {f["path"] for f in manifest["files"]}
    for out in (a, b):
        assert {
            f"outputs/{out.id}/{name}"
            for name in ("table.csv", "table.xlsx", "query.sql", "disclosure.json", "decision.json", "datasets.json")
        } <= files
    assert {"request.json", "README.txt"} <= files and manifest["approvers"] == ["carol", "dev"]
    assert bundles.verify_bundle(folder) == [] and bundles.verify_bundle(folder / f"{request.id}.zip") == []
    assert bundles.manifest_sha256(folder) == request.bundle_sha256

    rows = list(csv.reader(io.StringIO((folder / f"outputs/{a.id}/table.csv").read_text())))
    assert rows == [
        ["region", "claimants"],
        ["E12000001", "100"],
        ["E12000002", SUPPRESSED_MARKER],
        ["E12000003", "114"],
        ["E12000004", "121"],
    ]  # in review, and approved by both checkers: released with its published value (its true value is 119)
    sheet = load_workbook(folder / f"outputs/{a.id}/table.xlsx")["table"]
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        ["region", "claimants"],
        ["E12000001", 100],
        ["E12000002", SUPPRESSED_MARKER],
        ["E12000003", 114],
        ["E12000004", 121],
    ]
    assert (folder / f"outputs/{a.id}/query.sql").read_text().startswith("SELECT region")
    about = json.loads((folder / "request.json").read_text())
    assert about["justification"] == JUSTIFICATION and about["purpose"] == "employment_support"
    assert [(x["name"], x["organisation"]) for x in about["approvers"]] == [("carol", "ONS"), ("dev", "HMRC")]
    assert json.loads((folder / f"outputs/{a.id}/datasets.json").read_text()) == {
        "fingerprints": {"dwp.uc_claims": "f" * 64},
        "versions": {},
        "stale": {},
    }


def test_what_stays_inside_never_leaves(released):
    request, a, _, folder = released
    disclosure = json.loads((folder / f"outputs/{a.id}/disclosure.json").read_text())
    assert disclosure["cell_reasons"] == {"3:claimants": "Refunds, not individual amounts."}
    assert all(set(c) == {"row", "column", "status"} for c in disclosure["cells"])  # no rule names either
    decision = json.loads((folder / f"outputs/{a.id}/decision.json").read_text())
    assert decision["row_filters"] == [{"dataset": "dwp.uc_claims"}]  # named, never spelled out
    text = "".join(p.read_text(errors="ignore") for p in folder.rglob("*") if p.is_file() and p.suffix != ".zip")
    assert "opted_out" not in text and "SELECT 1" not in text  # the row filter; the generated SQL


def test_any_change_to_the_bundle_is_caught(released, tmp_path: Path):
    request, a, _, folder = released
    (folder / f"outputs/{a.id}/table.csv").write_text("region,claimants\nE12000002,3\n")
    (folder / "extra.txt").write_text("hello")
    (folder / "README.txt").unlink()
    assert sorted(bundles.verify_bundle(folder)) == [
        "README.txt is missing",
        "extra.txt is not in the manifest",
        f"outputs/{a.id}/table.csv was changed",
    ]


def test_the_download_is_for_the_author_and_is_audited(offline: Trust, released):
    request, *_ = released
    with pytest.raises(Exception, match="Only the author"):
        offline.airlock.archive("carol", request.id)
    path = offline.airlock.archive("ana", request.id)
    with zipfile.ZipFile(path) as z:
        assert f"{request.id}/manifest.json" in z.namelist()
    downloads = offline.audit.events(kind="release_downloaded")
    assert [e.payload["bundle_sha256"] for e in downloads] == [request.bundle_sha256] * 2


def test_a_bundle_changed_on_disk_is_not_handed_over(offline: Trust, released):
    request, _, _, folder = released
    (folder / "manifest.json").write_text("{}")
    with pytest.raises(Exception, match="no longer matches"):
        offline.airlock.archive("ana", request.id)


def test_a_half_built_bundle_is_cleared_and_a_stale_one_replaced(tmp_path: Path, offline: Trust, released):
    request, a, b, folder = released
    root = folder.parent
    dead = root / f".{request.id}.tmp-999999999-abcd"  # its builder is gone
    dead.mkdir()
    live = root / f".{request.id}.tmp-{os.getpid()}-abcd"  # this process may still be writing it
    live.mkdir()
    assert bundles.cleanup_partial(root) == [dead] and live.exists()
    live.rmdir()
    outputs = [offline.queries.output("ana", a.id), offline.queries.output("ana", b.id)]
    again = bundles.write_bundle(root, request, outputs, project={}, approvers=[], released="later")
    assert again.path.name.startswith(f".{request.id}.tmp-") and folder.exists()
    installed = bundles.install_bundle(again, root)
    assert installed.path == folder and bundles.verify_bundle(folder) == []
    assert sorted(p.name for p in root.iterdir()) == [request.id]
