"""The trust's state against its audit trail: every stored output, release request and dataset
version must be what the newest audit event about it recorded.

Each event that changes one of them carries the SHA-256 of the state it left (``content_sha256`` of
an output, ``state_sha256`` of a release request, ``manifest_sha256`` of a dataset version); the
store recomputes the same hashes from its rows (``trust.store``). The audit chain shows an event
edited, deleted or reordered (``trust.audit.log``); this shows a state row edited behind the
events' back, e.g. a rejected request set to ``approved``, or doubled figures in a stored output.

- ``check_output`` and ``check_request`` run before the trust acts on one (serves an output, moves
  or releases a request): a disagreement is ``StateDisagrees``, audited, and nothing is done.
- ``verify`` checks everything, for ``trust audit verify``, and names the first disagreement.

State recorded before events carried hashes is reported as not covered, not as a disagreement.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from trust.audit.kinds import EventKind
from trust.audit.log import AuditLog
from trust.errors import StateDisagrees
from trust.store import Records, StateStore

log = logging.getLogger("trust.integrity")
OUTPUT_HASH, REQUEST_HASH, VERSION_HASH = "content_sha256", "state_sha256", "manifest_sha256"


@dataclass(frozen=True)
class Disagreement:
    what: str  # "output out-…", "release request rel-…", "dataset version dwp.uc_claims@2"
    problem: str
    seq: int  # the event it disagrees with (0: no event records it), for ordering

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


def _recorded(tx: Records, field: str, value: str, having: str) -> tuple[str | None, int, bool]:
    """The hash the newest event about ``value`` recorded, its number, and whether any event names it."""
    event = tx.audit.latest_about(field, value, having)
    if event is not None:
        return str(json.loads(event.payload)[having]), event.seq, True
    return None, 0, tx.audit.latest_about(field, value, field) is not None


def _compare(
    what: str, stored: str | None, found: tuple[str | None, int, bool], differs: Callable[[int], str]
) -> Disagreement | None:
    """How the stored hash of ``what`` disagrees with the hash the audit trail recorded for it, if it does."""
    recorded, seq, named = found
    if stored is None:
        return Disagreement(what, "recorded in the audit trail but missing from the state", seq) if recorded else None
    if recorded is None:
        return None if named else Disagreement(what, "stored, but no audit event records it", 0)
    return Disagreement(what, differs(seq), seq) if recorded != stored else None


def output_disagreement(tx: Records, output_id: str) -> Disagreement | None:
    return _compare(
        f"output {output_id}",
        tx.outputs.digest(output_id),
        _recorded(tx, "output", output_id, OUTPUT_HASH),
        lambda seq: f"its stored content differs from what event {seq} recorded",
    )


def request_disagreement(tx: Records, request_id: str) -> Disagreement | None:
    def differs(seq: int) -> str:
        state = tx.releases.get(request_id, history=False).state.value
        return f"its stored state ({state}, its outputs and reviews) differs from what event {seq} recorded"

    return _compare(
        f"release request {request_id}",
        tx.releases.digest(request_id),
        _recorded(tx, "request", request_id, REQUEST_HASH),
        differs,
    )


class Integrity:
    def __init__(self, store: StateStore, audit: AuditLog) -> None:
        self.store, self.audit = store, audit

    def _refuse(self, found: Disagreement, actor: str, project: str | None) -> StateDisagrees:
        log.error("state disagrees with the audit trail: %s", found)
        self.audit.record(EventKind.STATE_DISAGREES, actor, project, subject=found.what, problem=found.problem)
        return StateDisagrees(
            f"The trust's record of {found.what} does not match its audit trail, so it is withheld and nothing "
            "was done with it. The trust's operators have been told; `trust audit verify` names what differs.",
            subject=found.what,
        )

    def check_output(self, tx: Records, output_id: str, *, actor: str, project: str | None) -> None:
        found = output_disagreement(tx, output_id)
        if found is not None:
            raise self._refuse(found, actor, project)

    def check_request(self, tx: Records, request_id: str, *, actor: str, project: str | None) -> None:
        found = request_disagreement(tx, request_id)
        if found is not None:
            raise self._refuse(found, actor, project)

    def verify(self) -> tuple[list[Disagreement], int]:
        """Every disagreement between the state and the audit trail (first by event order), and how
        many records were checked."""
        found: list[Disagreement] = []
        with self.store.read() as tx:
            outputs, requests = tx.outputs.ids(), tx.releases.ids()
            for output_id in outputs:
                if (d := output_disagreement(tx, output_id)) is not None:
                    found.append(d)
            for request_id in requests:
                if (d := request_disagreement(tx, request_id)) is not None:
                    found.append(d)
            versions = tx.datasets.all()
            recorded = {
                str(p["version"]): (str(p[VERSION_HASH]), r.seq)
                for r in tx.audit.all()
                if r.kind in (EventKind.DATASET_REGISTERED.value, EventKind.DATASET_REFRESHED.value)
                for p in [json.loads(r.payload)]
                if VERSION_HASH in p and "version" in p
            }
            for version_id, digest in versions:
                want = recorded.get(version_id)
                if want is None:
                    found.append(
                        Disagreement(f"dataset version {version_id}", "stored, but no audit event records it", 0)
                    )
                elif want[0] != digest:
                    found.append(
                        Disagreement(
                            f"dataset version {version_id}",
                            f"its stored manifest differs from what event {want[1]} recorded",
                            want[1],
                        )
                    )
        return sorted(found, key=lambda d: d.seq), len(outputs) + len(requests) + len(versions)
