"""The release bundle: what leaves the trust once two output checkers have approved a request.

For each output: the protected table as CSV and XLSX (suppressed cells ``[c]``), the analyst's
SQL, the disclosure report (statuses and rules, never the checkers' figures: a unit count behind
a suppressed cell would undo the suppression), the policy decision (thresholds, and which
datasets had row filters or masks, never their expressions) and the datasets' fingerprints.
For the request: who asked, why, and who approved. ``manifest.json`` lists every file with its
SHA-256, and ``ro-crate-metadata.json`` describes the same files as an RO-Crate after the Five Safes
RO-Crate profile (``trust.outputs.crate``); the SHA-256 of the manifest itself is recorded in the audit log when the request is
released, so anyone holding the bundle can check it against the trust's transparency report.

The bundle is written to a temporary folder and renamed into place in one step (while the
release is recorded), so a crash leaves either no bundle or a whole one, and building it again
replaces a stale one.

    releases/rel-…/
        manifest.json  ro-crate-metadata.json  request.json  README.txt  rel-….zip (all of them, for download)
        outputs/out-…/table.csv  table.xlsx  query.sql  disclosure.json  decision.json  datasets.json
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from trust.outputs.crate import CRATE_METADATA, crate_metadata
from trust.outputs.output import Output
from trust.outputs.release import ReleaseRequest, ReviewDecision
from trust.sdc.parameters import Parameters
from trust.sdc.report import SUPPRESSED_MARKER, CellStatus

FAULT_PAUSE_ENV = "TRUST_FAULT_PAUSE_RELEASE_S"  # tests only: pause mid-build, so a crash can be staged there
MANIFEST = "manifest.json"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Approver:
    name: str
    organisation: str
    reviewed: str
    comments: Mapping[str, str]  # output id -> comment

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "organisation": self.organisation,
            "reviewed": self.reviewed,
            "comments": dict(self.comments),
        }


@dataclass(frozen=True)
class Bundle:
    request: str
    path: Path  # the folder
    archive: Path  # the zip the author downloads
    manifest_sha256: str
    files: Mapping[str, str]  # relative path -> SHA-256


def bundle_dir(root: Path, request_id: str) -> Path:
    return root / request_id


def archive_path(root: Path, request_id: str) -> Path:
    return bundle_dir(root, request_id) / f"{request_id}.zip"


def approvers_of(request: ReleaseRequest, organisations: Mapping[str, str]) -> list[Approver]:
    """The checkers whose approvals of the current round released the request."""
    found: dict[str, Approver] = {}
    for r in request.reviews_in():
        if r.decision is not ReviewDecision.APPROVE:
            continue
        prior = found.get(r.reviewer)
        comments = {**(prior.comments if prior else {}), **({r.output: r.comment} if r.comment else {})}
        found[r.reviewer] = Approver(
            r.reviewer,
            organisations.get(r.reviewer, ""),
            max(r.created, prior.reviewed) if prior else r.created,
            comments,
        )
    return sorted(found.values(), key=lambda a: a.reviewed)


def write_bundle(
    root: Path,
    request: ReleaseRequest,
    outputs: Sequence[Output],
    *,
    project: Mapping[str, Any],
    approvers: Sequence[Approver],
    released: str,
    stale: Mapping[str, Mapping[str, str]] | None = None,
    organisations: Mapping[str, str] | None = None,
) -> Bundle:
    """Write the bundle for ``request`` into a temporary folder under ``root``; ``install_bundle`` puts it in place.

    ``stale`` (output id -> dataset -> note) flags datasets read at a version since superseded, or
    changed at the source since: the notes go into each output's ``datasets.json`` and the README.

    Two steps, so the caller can install the bundle and record the release in one transaction: a
    crash leaves either no bundle or a whole one, and a losing concurrent builder discards its copy.
    ``organisations`` (user -> organisation) names the analyst's and the checkers' organisations in the
    RO-Crate description (``trust.outputs.crate``).
    """
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{request.id}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        files: dict[str, bytes] = {}
        released_outputs = [approved(stored) for stored in outputs]
        for out in released_outputs:
            base = f"outputs/{out.id}/"
            files[base + "table.csv"] = table_csv(out)
            files[base + "table.xlsx"] = table_xlsx(out)
            files[base + "query.sql"] = out.sql.strip().encode() + b"\n"
            files[base + "disclosure.json"] = _json(
                {
                    "output": out.id,
                    "summary": out.report.summary(),
                    "cell_reasons": dict(request.reasons(out.id)),
                    **out.report.to_json(figures=False),
                }
            )
            files[base + "decision.json"] = _json(public_decision(out.decision))
            files[base + "datasets.json"] = _json(
                {
                    "fingerprints": dict(out.fingerprints),
                    "versions": dict(out.versions),
                    "stale": dict((stale or {}).get(out.id, {})),
                }
            )
        about = {
            "request": request.id,
            "project": request.project,
            "purpose": project.get("purpose"),
            "legal_gateway": project.get("legal_gateway"),
            "title": project.get("title"),
            "author": request.author,
            "justification": request.justification,
            "round": request.round,
            "created": request.created,
            "released": released,
            "outputs": request.output_ids,
            "replaced": {o.output: o.replaces for o in request.outputs if o.replaces},  # corrected -> first
            "approvers": [a.to_json() for a in approvers],
        }
        files["request.json"] = _json(about)
        files["README.txt"] = _readme(request, approvers, released, stale or {}).encode()
        files[CRATE_METADATA] = crate_metadata(
            request,
            released_outputs,
            files,
            project=project,
            organisations={**{a.name: a.organisation for a in approvers}, **(organisations or {})},
            released=released,
        )
        for name, data in files.items():
            _write(tmp / name, data)
            if name.endswith("table.csv"):
                _fault_pause()  # a crash staged here leaves a half-written temporary folder
        digests = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
        manifest = _json(
            {
                "request": request.id,
                "project": request.project,
                "released": released,
                "algorithm": "sha256",
                "approvers": [a.name for a in approvers],
                "files": [
                    {"path": name, "sha256": digest, "bytes": len(files[name])} for name, digest in digests.items()
                ],
            }
        )
        _write(tmp / MANIFEST, manifest)
        files[MANIFEST] = manifest
        _write(tmp / f"{request.id}.zip", _zip(request.id, files))
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Bundle(
        request.id,
        tmp,
        tmp / f"{request.id}.zip",
        hashlib.sha256(manifest).hexdigest(),
        {**digests, MANIFEST: hashlib.sha256(manifest).hexdigest()},
    )


def install_bundle(bundle: Bundle, root: Path) -> Bundle:
    """Rename a written bundle into ``releases/<request>/`` in one step, replacing a stale one."""
    final = bundle_dir(root, bundle.request)
    if final.exists():  # from a crash after an earlier rename but before that release was recorded
        shutil.rmtree(final)
    os.replace(bundle.path, final)
    _fsync_dir(root)
    return Bundle(bundle.request, final, archive_path(root, bundle.request), bundle.manifest_sha256, bundle.files)


def discard_bundle(bundle: Bundle) -> None:
    shutil.rmtree(bundle.path, ignore_errors=True)


def verify_bundle(path: Path) -> list[str]:
    """Problems with a bundle folder or its zip: files missing, changed or added since the manifest."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            prefix = names[0].split("/", 1)[0] + "/" if names else ""
            contents = {n[len(prefix) :]: z.read(n) for n in names}
    else:
        contents = {
            str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file() and p.suffix != ".zip"
        }
    if MANIFEST not in contents:
        return [f"{MANIFEST} is missing"]
    manifest = json.loads(contents[MANIFEST])
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    problems = [f"{name} is missing" for name in listed if name not in contents]
    problems += [
        f"{name} was changed"
        for name, digest in listed.items()
        if name in contents and hashlib.sha256(contents[name]).hexdigest() != digest
    ]
    problems += [f"{name} is not in the manifest" for name in contents if name not in listed and name != MANIFEST]
    return problems


def manifest_sha256(path: Path) -> str:
    return hashlib.sha256((path / MANIFEST).read_bytes()).hexdigest()


def cleanup_partial(root: Path, *, older_than_s: float = 3600.0) -> list[Path]:
    """Remove temporary folders a crash left behind mid-build: their builder is gone, or they are old."""
    removed = []
    cutoff = time.time() - older_than_s
    for tmp in root.glob(".rel-*.tmp-*") if root.exists() else ():
        if not _builder_alive(tmp) or tmp.stat().st_mtime < cutoff:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _builder_alive(tmp: Path) -> bool:
    pid = tmp.name.rsplit(".tmp-", 1)[-1].split("-", 1)[0]
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the files -----------------------------------------------------------------------------------
def approved(out: Output) -> Output:
    """The output as released: cells held for review were approved with the request (two checkers approved
    every output), so each leaves with the value the trust publishes for it; suppressed cells stay ``[c]``."""
    review = {(c.row, c.column): c for c in out.report.cells if c.status is CellStatus.REVIEW}
    if not review:
        return out
    columns = []
    masks = []
    for c, name in enumerate(out.columns):
        values = out.table.column(c).to_pylist()
        mask = list(out.suppressed[c])
        for r in range(out.table.num_rows):
            cell = review.get((r, name))
            if cell is not None and "published" in cell.figures:
                values[r], mask[r] = cell.figures["published"], False
        columns.append(pa.array(values, type=out.table.schema.field(c).type))
        masks.append(tuple(mask))
    cells = tuple(replace(c, status=CellStatus.OK) if (c.row, c.column) in review and "published" in c.figures else c
                  for c in out.report.cells)  # fmt: skip
    return replace(out, table=pa.Table.from_arrays(columns, names=out.columns), suppressed=tuple(masks),
                   report=replace(out.report, cells=cells))  # fmt: skip


def public_decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    """The policy decision without what stays inside the trust: row filter and mask expressions, and
    the dominance and p% parameters."""
    obligations = dict(decision.get("obligations") or {})
    return {
        "allow": bool(decision.get("allow", True)),
        "disclosure": Parameters.from_json(obligations.get("disclosure") or {}).public_json(),
        "row_filters": [{"dataset": f.get("dataset")} for f in obligations.get("row_filters") or ()],
        "column_masks": [
            {"dataset": m.get("dataset"), "column": m.get("column")} for m in obligations.get("column_masks") or ()
        ],
    }


def table_csv(out: Output) -> bytes:
    sink = io.StringIO()
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(out.columns)
    for row in out.rows(marker=SUPPRESSED_MARKER):
        writer.writerow(["" if v is None else v for v in row])
    return sink.getvalue().encode()


def table_xlsx(out: Output) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("table")
    bold = Font(bold=True)
    header = []
    for name in out.columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    right = Alignment(horizontal="right")
    for row in out.rows(marker=SUPPRESSED_MARKER):
        cells = []
        for value in row:
            if value == SUPPRESSED_MARKER:
                cell = WriteOnlyCell(sheet, value=SUPPRESSED_MARKER)
                cell.alignment = right
                cells.append(cell)
            else:
                cells.append(_excel(value))
        sheet.append(cells)
    about = wb.create_sheet("about")
    for line in (
        ("output", out.id),
        ("project", out.project),
        ("created", out.created),
        ("disclosure", out.report.summary()),
        ("suppressed cells", f"shown as {SUPPRESSED_MARKER}"),
        ("datasets", ", ".join(sorted(out.fingerprints))),
        ("sql", out.sql.strip()),
    ):
        about.append(list(line))
    sink = io.BytesIO()
    wb.save(sink)
    return sink.getvalue()


def _excel(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str, dt.date)):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.isoformat()  # Excel has no time zones
        return value
    try:
        return float(value)  # Decimal
    except (TypeError, ValueError):
        return str(value)


def _readme(
    request: ReleaseRequest,
    approvers: Sequence[Approver],
    released: str,
    stale: Mapping[str, Mapping[str, str]],
) -> str:
    names = " and ".join(f"{a.name} ({a.organisation})" if a.organisation else a.name for a in approvers)
    warnings = [
        f"WARNING: output {output} read {dataset}, {note}.\n"
        for output, notes in sorted(stale.items())
        for dataset, note in sorted(notes.items())
    ]
    return (
        f"Release {request.id} from the Labour Market Data Trust, project {request.project}.\n"
        f"Requested by {request.author}; approved by {names}; released {released}.\n\n"
        f"Each folder under outputs/ holds one protected table (table.csv, table.xlsx), the SQL that\n"
        f"produced it, its disclosure report, the policy decision and the versions and fingerprints of the\n"
        f"datasets read (datasets.json). Cells shown as {SUPPRESSED_MARKER} are confidential: withheld by\n"
        f"statistical disclosure control.\n"
        f"manifest.json lists the SHA-256 of every file; the SHA-256 of manifest.json itself is in the\n"
        f"trust's audit log and transparency report. ro-crate-metadata.json describes the release as an\n"
        f"RO-Crate (Five Safes RO-Crate profile): project, analyst, queries, checks and reviews.\n"
        + ("\n" + "".join(warnings) if warnings else "")
    )


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, default=str) + "\n").encode()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _zip(request_id: str, files: Mapping[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{request_id}/{name}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, files[name])
    return sink.getvalue()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fault_pause() -> None:
    seconds = os.environ.get(FAULT_PAUSE_ENV)
    if seconds:
        time.sleep(float(seconds))
