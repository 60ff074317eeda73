"""The client's side of the airlock: ask for a release, follow it, download the bundle.

    >>> request = client.request_release([earnings.id, areas.id], justification="…")   # doctest: +SKIP
    >>> request = client.wait_for_release(request.id)                                  # doctest: +SKIP
    >>> folder = client.download_release(request.id, "releases")                       # doctest: +SKIP

``Client`` inherits these methods; an output fetched through a client asks the same way
(``out.request_release("…")``). Output checkers may review through the API too
(``review_release``), though their pages at ``/checker/`` are where they normally work.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from trust.errors import TrustError
from trust.outputs.bundle import MANIFEST, verify_bundle
from trust.outputs.release import Comment, ReleaseRequest, ReleaseState

DECIDED = frozenset({ReleaseState.RELEASED, ReleaseState.REJECTED, ReleaseState.RETURNED, ReleaseState.WITHDRAWN})


def _ids(outputs: Iterable[Any]) -> list[str]:
    return [o if isinstance(o, str) else o.id for o in outputs]


def _reasons(cell_reasons: Mapping[str, Mapping[Any, str]] | None) -> dict[str, dict[str, str]]:
    """(row, column) keys become the wire's "ROW:COLUMN"."""
    out: dict[str, dict[str, str]] = {}
    for output, cells in (cell_reasons or {}).items():
        oid = output if isinstance(output, str) else output.id
        out[oid] = {(f"{k[0]}:{k[1]}" if isinstance(k, tuple) else str(k)): str(v) for k, v in cells.items()}
    return out


class ReleaseMethods:
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:  # provided by Client
        raise NotImplementedError

    def request_release(
        self,
        outputs: Iterable[Any],
        justification: str,
        *,
        cell_reasons: Mapping[str, Mapping[Any, str]] | None = None,
        submit: bool = True,
    ) -> ReleaseRequest:
        """Ask for ``outputs`` (ids or outputs, of one of your projects) to leave the trust.

        ``cell_reasons`` maps an output to ``{(row, column): reason}`` for its cells in review.
        Submitted to two output checkers unless ``submit=False`` (a draft). Safe to retry: the
        submission carries an idempotency key, so the server makes one request however often it arrives.
        """
        body = {
            "outputs": _ids(outputs),
            "justification": justification,
            "cell_reasons": _reasons(cell_reasons),
            "submit": submit,
        }
        response = self._request("POST", "/v1/releases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        return ReleaseRequest.from_json(response.json())

    def release(self, request_id: str) -> ReleaseRequest:
        """One of your release requests, as it stands now."""
        return ReleaseRequest.from_json(self._request("GET", f"/v1/releases/{request_id}").json())

    def releases(self, project: str | None = None, state: str | None = None) -> list[ReleaseRequest]:
        """The release requests you may see, most recently changed first."""
        params = {k: v for k, v in {"project": project, "state": state}.items() if v}
        body = self._request("GET", "/v1/releases", params=params).json()
        return [ReleaseRequest.from_json(r) for r in body["releases"]]

    def submit_release(self, request_id: str) -> ReleaseRequest:
        return ReleaseRequest.from_json(self._request("POST", f"/v1/releases/{request_id}/submit").json())

    def withdraw_release(self, request_id: str) -> ReleaseRequest:
        return ReleaseRequest.from_json(self._request("POST", f"/v1/releases/{request_id}/withdraw").json())

    def edit_release(
        self,
        request_id: str,
        *,
        justification: str | None = None,
        cell_reasons: Mapping[str, Mapping[Any, str]] | None = None,
        outputs: Iterable[Any] | None = None,
    ) -> ReleaseRequest:
        """Change a draft or returned request; then ``submit_release`` it."""
        body: dict[str, Any] = {}
        if justification is not None:
            body["justification"] = justification
        if cell_reasons is not None:
            body["cell_reasons"] = _reasons(cell_reasons)
        if outputs is not None:
            body["outputs"] = _ids(outputs)
        return ReleaseRequest.from_json(self._request("PATCH", f"/v1/releases/{request_id}", json=body).json())

    def review_release(self, request_id: str, decisions: Mapping[str, Any]) -> ReleaseRequest:
        """An output checker's review: {output: "approve"} or {output: (decision, comment)} for every output."""
        wire = {}
        for output, d in decisions.items():
            decision, comment = (d, "") if isinstance(d, str) else d
            wire[output] = {"decision": decision, "comment": comment}
        response = self._request(
            "POST",
            f"/v1/releases/{request_id}/reviews",
            json={"decisions": wire},
            headers={"Idempotency-Key": uuid.uuid4().hex},  # a retried review is recorded once
        )
        return ReleaseRequest.from_json(response.json())

    def replace_output(
        self, request_id: str, output: Any, by: Any, *, cell_reasons: Mapping[Any, str] | None = None
    ) -> ReleaseRequest:
        """In a request returned for changes, put the corrected output ``by`` in the place of ``output``."""
        body: dict[str, Any] = {"output": _ids([output])[0], "by": _ids([by])[0]}
        if cell_reasons:
            body["cell_reasons"] = _reasons({body["by"]: cell_reasons})[body["by"]]
        return ReleaseRequest.from_json(self._request("POST", f"/v1/releases/{request_id}/replace", json=body).json())

    def comment_release(
        self,
        request_id: str,
        body: str,
        *,
        output: Any = None,
        cell: Any = None,
        reply_to: str | None = None,
        checkers_only: bool = False,
    ) -> Comment:
        """Comment on a request, an output or a cell ((row, column) or "ROW:COLUMN"), or reply in a thread."""
        wire: dict[str, Any] = {"body": body, "checkers_only": checkers_only}
        if output is not None:
            wire["output"] = _ids([output])[0]
        if cell is not None:
            wire["cell"] = f"{cell[0]}:{cell[1]}" if isinstance(cell, tuple) else str(cell)
        if reply_to is not None:
            wire["reply_to"] = reply_to
        return Comment.from_json(self._request("POST", f"/v1/releases/{request_id}/comments", json=wire).json())

    def release_comments(self, request_id: str) -> list[Comment]:
        body = self._request("GET", f"/v1/releases/{request_id}/comments").json()
        return [Comment.from_json(c) for c in body["comments"]]

    def release_diff(self, request_id: str, since: int | None = None) -> dict[str, Any]:
        """What changed since round ``since`` (default: the round before, or the last you reviewed)."""
        params = {"since": since} if since is not None else None
        return dict(self._request("GET", f"/v1/releases/{request_id}/diff", params=params).json())

    def wait_for_release(self, request_id: str, *, timeout: float = 300.0, every: float = 1.0) -> ReleaseRequest:
        """Poll until the checkers have decided (released, rejected, returned) or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            request = self.release(request_id)
            if request.state in DECIDED or time.monotonic() >= deadline:
                return request
            time.sleep(min(every, max(0.0, deadline - time.monotonic())))

    def download_release(self, request_id: str, to: str | Path = ".") -> Path:
        """Download a released bundle, check every file against its manifest, and unpack it under ``to``.

        Returns the bundle's folder (``to/rel-…``), which holds the zip as downloaded too.
        """
        request = self.release(request_id)
        response = self._request("GET", f"/v1/releases/{request_id}/bundle")
        folder = Path(to)
        folder.mkdir(parents=True, exist_ok=True)
        archive = folder / f"{request_id}.zip"
        archive.write_bytes(response.content)
        problems = verify_bundle(archive)
        with zipfile.ZipFile(io.BytesIO(response.content)) as z:
            if not problems and hashlib.sha256(z.read(f"{request_id}/{MANIFEST}")).hexdigest() != request.bundle_sha256:
                problems.append("its manifest is not the one the trust recorded when it released the request")
            if problems:
                archive.unlink()
                raise TrustError(
                    f"The bundle of {request_id} failed its checks: {'; '.join(problems)}.", request=request_id
                )
            z.extractall(folder)
        (folder / request_id / archive.name).write_bytes(response.content)
        archive.unlink()
        return folder / request_id
