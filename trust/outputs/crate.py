"""The release bundle described as an RO-Crate, after the Five Safes RO-Crate profile (0.4).

``ro-crate-metadata.json`` sits at the bundle's root, beside ``manifest.json``, so trusted research
environments and archives that read RO-Crates can take a release as it is:

- the root dataset conforms to the Five Safes RO-Crate profile, names the responsible project
  (``sourceOrganization``: title, purpose, legal gateway) and the trust as ``publisher``;
- every file is a ``File`` with its ``sha256``, ``contentSize`` and ``encodingFormat``;
- each output is a ``CreateAction`` by the analyst (``agent``, with their organisation), whose
  ``instrument`` is the SQL that ran, whose ``object`` is the datasets at the versions read and whose
  ``result`` is the protected tables;
- the review process is ``AssessAction``s, typed with the Safe Haven Provenance terms the profile
  uses: the policy decision (``SignOff``), the trust's disclosure control of each output
  (``DisclosureCheck``, by the trust) and each output checker's review of each output
  (``DisclosureCheck``, by the checker).

Where the profile assumes a workflow, the trust has SQL: the crate's ``mainEntity`` is the set of
queries (a ``CreativeWork`` whose parts are the SQL files), not a Workflow RO-Crate; and the bundle is a zip of a folder,
not a BagIt bag: its checksums are SHA-256, in ``manifest.json`` and on each file here
(docs/release.md).

Only what the bundle already releases is described: no figures behind a suppressed cell, no row
filter or mask expression.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from trust.outputs.output import Output
from trust.outputs.release import ReleaseRequest, ReviewDecision

CRATE_METADATA = "ro-crate-metadata.json"
RO_CRATE_VERSION = "1.3"
FIVE_SAFES_PROFILE = "https://w3id.org/5s-crate/0.4"
SHP = "https://w3id.org/shp#"
LICENCE = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
TRUST_ORG = "#labour-market-data-trust"
_FORMATS = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".sql": "application/sql",
    ".json": "application/json",
    ".txt": "text/plain",
}
_COMPLETED = "http://schema.org/CompletedActionStatus"
_FAILED = "http://schema.org/FailedActionStatus"


def crate_metadata(
    request: ReleaseRequest,
    outputs: Sequence[Output],
    files: Mapping[str, bytes],
    *,
    project: Mapping[str, Any],
    organisations: Mapping[str, str],
    released: str,
) -> bytes:
    """``ro-crate-metadata.json`` for a bundle of ``files`` (relative path -> content)."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.rocrate import ROCrate

    crate = ROCrate(version=RO_CRATE_VERSION)

    def entity(entity_id: str, kind: str | list[str], **properties: Any) -> Any:
        return crate.add(ContextEntity(crate, entity_id, properties={"@type": kind, **properties}))

    def ref(identifier: str) -> dict[str, str]:
        return {"@id": identifier}

    entity(FIVE_SAFES_PROFILE, "Profile", name="Five Safes RO-Crate profile")
    entity(LICENCE, "CreativeWork", name="Open Government Licence v3.0", identifier="OGL-UK-3.0")
    entity(
        TRUST_ORG,
        "Organization",
        name="Labour Market Data Trust",
        description="The trusted research service that ran the queries, applied the policy and statistical "
        "disclosure control, and released these tables after two output checkers approved them.",
    )
    for term, name in (("SignOff", "Sign-off"), ("DisclosureCheck", "Disclosure check")):
        entity(SHP + term, "DefinedTerm", name=name)

    project_id = f"#project-{request.project}"
    entity(
        project_id,
        "Project",
        name=str(project.get("title") or request.project),
        identifier=request.project,
        description=f"Purpose: {project.get('purpose') or 'not recorded'}. "
        f"Legal gateway: {project.get('legal_gateway') or 'not recorded'}.",
    )

    def person(name: str) -> dict[str, str]:
        identifier = f"#person-{name}"
        if crate.get(identifier) is None:
            organisation = organisations.get(name, "")
            extra: dict[str, Any] = {}
            if organisation:
                org_id = f"#organisation-{organisation}"
                if crate.get(org_id) is None:
                    entity(org_id, "Organization", name=organisation)
                extra["affiliation"] = ref(org_id)
            entity(identifier, "Person", name=name, memberOf=ref(project_id), **extra)
        return ref(identifier)

    for path in sorted(files):
        data = files[path]
        suffix = path[path.rfind(".") :] if "." in path else ""
        crate.add_file(
            dest_path=path,
            properties={
                "name": _file_name(path),
                "description": _describe(path),
                "encodingFormat": _FORMATS.get(suffix, "application/octet-stream"),
                "contentSize": str(len(data)),
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )

    queries = entity(
        "#queries",
        "CreativeWork",
        name=f"The SQL behind release {request.id}",
        description="Each output's query, as the analyst wrote it (DuckDB's SQL dialect); the trust ran SQL "
        "regenerated from the checked query under the project's policy.",
        hasPart=_one_or_many([ref(f"outputs/{o.id}/query.sql") for o in outputs]),
    )
    mentions: list[dict[str, str]] = []
    decision_time = request.created
    entity(
        "#policy-decisions",
        "CreativeWork",
        name="The trust's policy decisions (Rego) for this project's queries",
        hasPart=_one_or_many([ref(f"outputs/{o.id}/decision.json") for o in outputs]),
    )
    signoff = entity(
        "#signoff",
        "AssessAction",
        additionalType=ref(SHP + "SignOff"),
        name="Sign-off of each query under the project's agreement by the trust's policy: approved",
        endTime=decision_time,
        object=[ref("./"), ref(project_id)],
        instrument=ref("#policy-decisions"),
        agent=ref(TRUST_ORG),
        actionStatus=_COMPLETED,
    )
    mentions.append(ref(signoff.id))

    reviews = {(r.reviewer, r.output): r for r in request.reviews_in()}
    for out in outputs:
        base = f"outputs/{out.id}/"
        read = []
        for dataset in sorted(out.fingerprints):
            dataset_id = f"#dataset-{dataset}"
            if crate.get(dataset_id) is None:
                version = out.versions.get(dataset)
                entity(
                    dataset_id,
                    "Dataset",
                    name=dataset,
                    identifier=dataset,
                    **({"version": str(version)} if version else {}),
                )
            read.append(ref(dataset_id))
        run = entity(
            f"#run-{out.id}",
            "CreateAction",
            name=f"Query {out.id} run by the trust for {out.user}",
            agent=person(out.user),
            instrument=ref(base + "query.sql"),
            object=_one_or_many(read),
            result=[ref(base + "table.csv"), ref(base + "table.xlsx")],
            endTime=out.created,
            actionStatus=_COMPLETED,
        )
        mentions.append(ref(run.id))
        control = entity(
            f"#disclosure-control-{out.id}",
            "AssessAction",
            additionalType=ref(SHP + "DisclosureCheck"),
            name=f"Statistical disclosure control of {out.id}: {out.report.summary()}",
            endTime=out.created,
            object=[ref(base + "table.csv"), ref(base + "table.xlsx")],
            result=ref(base + "disclosure.json"),
            agent=ref(TRUST_ORG),
            actionStatus=_COMPLETED,
        )
        mentions.append(ref(control.id))
        for (reviewer, output), review in sorted(reviews.items()):
            if output != out.id:
                continue
            verdict = "approved" if review.decision is ReviewDecision.APPROVE else review.decision.value
            check = entity(
                f"#review-{out.id}-{reviewer}",
                "AssessAction",
                additionalType=ref(SHP + "DisclosureCheck"),
                name=f"Output check of {out.id} by {reviewer}: {verdict}",
                endTime=review.created,
                object=[ref(base + "table.csv"), ref(base + "disclosure.json")],
                agent=person(reviewer),
                actionStatus=_COMPLETED if review.decision is ReviewDecision.APPROVE else _FAILED,
                **({"description": review.comment} if review.comment else {}),
            )
            mentions.append(ref(check.id))

    root = crate.root_dataset
    root["name"] = f"Release {request.id} from the Labour Market Data Trust"
    root["description"] = (
        f"Protected tables released from project {request.project} after statistical disclosure control "
        f"and review by two output checkers. Cells shown as [c] are confidential. Justification: "
        f"{request.justification}"
    )
    root["identifier"] = request.id
    root["datePublished"] = released
    root["license"] = ref(LICENCE)
    root["conformsTo"] = ref(FIVE_SAFES_PROFILE)
    root["publisher"] = ref(TRUST_ORG)
    root["sourceOrganization"] = ref(project_id)
    root["mainEntity"] = ref(queries.id)
    root["mentions"] = mentions
    return (json.dumps(crate.metadata.generate(), indent=1, sort_keys=False) + "\n").encode()


_ABOUT = {
    "table.csv": "The protected table as CSV; cells shown as [c] are confidential.",
    "table.xlsx": "The protected table as a spreadsheet; cells shown as [c] are confidential.",
    "query.sql": "The query as the analyst wrote it.",
    "disclosure.json": "The disclosure report: each cell's status and the rule that set it.",
    "decision.json": "The policy decision: thresholds, and which datasets had row filters or column masks.",
    "datasets.json": "The datasets read: their versions and fingerprints, and any since superseded.",
    "request.json": "The release request: project, purpose, legal gateway, justification and approvers.",
    "README.txt": "What the release holds, who asked for it and who approved it.",
}


def _describe(path: str) -> str:
    return _ABOUT.get(path.rsplit("/", 1)[-1], "A file of the release.")


def _one_or_many(refs: list[dict[str, str]]) -> dict[str, str] | list[dict[str, str]]:
    return refs[0] if len(refs) == 1 else refs


def _file_name(path: str) -> str:
    head, _, name = path.rpartition("/")
    output = head.rsplit("/", 1)[-1] if head.startswith("outputs/") else ""
    return f"{name} of {output}" if output else name
