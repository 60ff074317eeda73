"""A released bundle is an RO-Crate: it validates with roc-validator (the RO-Crate profile), follows the
Five Safes RO-Crate profile's shape (project, requesting agent, checks, sign-off) and its checksums
verify; and it says nothing a bundle must keep inside.

The validator resolves the RO-Crate JSON-LD context over HTTP. This machine is offline, so the test
puts the context document the ``rocrate`` package ships into the validator's own HTTP cache and runs
it in its offline mode: the real validator and the real context, read from a local copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

from trust.outputs import bundle as bundles
from trust.outputs.crate import CRATE_METADATA, FIVE_SAFES_PROFILE, RO_CRATE_VERSION, SHP
from trust.outputs.release import ReleaseState
from trust.service import Trust

from .conftest import JUSTIFICATION, MakeOutput

CONTEXT_URL = f"https://w3id.org/ro/crate/{RO_CRATE_VERSION}/context"


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


@pytest.fixture(scope="module")
def validator_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The validator's HTTP cache, holding the RO-Crate context as the ``rocrate`` package ships it."""
    import requests
    import rocrate
    from requests_cache import CachedSession
    from urllib3 import HTTPResponse

    context = (Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()
    assert json.loads(context)["@id"] == CONTEXT_URL  # the local copy is the version the crate names
    cache = str(tmp_path_factory.mktemp("roc-validator") / "http_cache")
    session = CachedSession(cache_name=cache, expire_after=-1)
    headers = {"Content-Type": "application/ld+json"}
    raw = HTTPResponse(io.BytesIO(context), headers=headers, status=200, preload_content=False, request_url=CONTEXT_URL)
    response = requests.adapters.HTTPAdapter().build_response(requests.Request("GET", CONTEXT_URL).prepare(), raw)
    response._content = context
    session.cache.save_response(response)
    session.close()
    return cache


def validate(folder: Path, cache: str, profile: str = f"ro-crate-{RO_CRATE_VERSION}"):
    from rocrate_validator import models, services

    settings = services.ValidationSettings(
        rocrate_uri=str(folder),
        profile_identifier=profile,
        requirement_severity=models.Severity.REQUIRED,
        cache_path=cache,
        offline=True,
    )
    return services.validate(settings)


def graph(folder: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in json.loads((folder / CRATE_METADATA).read_text())["@graph"]}


def ids(value) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value])]


def test_a_released_bundle_validates_as_an_ro_crate(released, validator_cache):
    _, _, _, folder = released
    result = validate(folder, validator_cache)
    assert result.passed(), "\n".join(f"{i.severity.name}: {i.message}" for i in result.get_issues())


def test_the_validator_catches_a_broken_crate(released, validator_cache, tmp_path):
    """The check above can fail: the same bundle without its root dataset's name and date does not validate."""
    _, _, _, folder = released
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in folder.rglob("*"):
        if p.is_file():
            (broken / p.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (broken / p.relative_to(folder)).write_bytes(p.read_bytes())
    doc = json.loads((broken / CRATE_METADATA).read_text())
    root = next(e for e in doc["@graph"] if e["@id"] == "./")
    del root["datePublished"], root["name"], root["license"]
    (broken / CRATE_METADATA).write_text(json.dumps(doc))
    assert not validate(broken, validator_cache).passed()


def test_every_file_is_described_with_a_checksum_that_verifies(released):
    request, _, _, folder = released
    g = graph(folder)
    described = {i for i, e in g.items() if e.get("@type") == "File"}
    on_disk = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    # Every file but the zip, the manifest and the crate's own metadata; the manifest covers the crate.
    assert described == on_disk - {f"{request.id}.zip", "manifest.json", CRATE_METADATA}
    for path in described:
        data = (folder / path).read_bytes()
        assert g[path]["sha256"] == hashlib.sha256(data).hexdigest(), path
        assert int(g[path]["contentSize"]) == len(data)
    assert set(ids(g["./"]["hasPart"])) == described
    assert bundles.verify_bundle(folder) == []  # manifest.json lists the crate metadata too
    with zipfile.ZipFile(folder / f"{request.id}.zip") as z:
        assert f"{request.id}/{CRATE_METADATA}" in z.namelist()


def test_the_crate_follows_the_five_safes_profile(released):
    request, a, b, folder = released
    g = graph(folder)
    root = g["./"]
    assert ids(root["conformsTo"]) == [FIVE_SAFES_PROFILE] and g[FIVE_SAFES_PROFILE]["@type"] == "Profile"
    project = g[root["sourceOrganization"]["@id"]]
    assert project["@type"] == "Project" and project["identifier"] == request.project
    assert "employment_support" in project["description"]
    assert root["identifier"] == request.id and root["datePublished"]
    queries = g[root["mainEntity"]["@id"]]
    assert set(ids(queries["hasPart"])) == {f"outputs/{o.id}/query.sql" for o in (a, b)}

    mentioned = [g[i] for i in ids(root["mentions"])]
    runs = [m for m in mentioned if m["@type"] == "CreateAction"]
    assert {r["instrument"]["@id"] for r in runs} == {f"outputs/{o.id}/query.sql" for o in (a, b)}
    for run in runs:
        analyst = g[run["agent"]["@id"]]
        assert analyst["name"] == "ana" and analyst["memberOf"]["@id"] == project["@id"]
        assert g[analyst["affiliation"]["@id"]]["@type"] == "Organization"
        assert all(g[d]["@type"] == "Dataset" for d in ids(run["object"]))
        assert {r.rsplit("/", 1)[-1] for r in ids(run["result"])} == {"table.csv", "table.xlsx"}
    checks = [m for m in mentioned if m["@type"] == "AssessAction"]
    kinds = {(m["additionalType"]["@id"], g[m["agent"]["@id"]]["@type"]) for m in checks}
    assert kinds == {
        (SHP + "SignOff", "Organization"),
        (SHP + "DisclosureCheck", "Organization"),
        (SHP + "DisclosureCheck", "Person"),
    }
    reviews = sorted(
        (g[m["agent"]["@id"]]["name"], m["name"]) for m in checks if g[m["agent"]["@id"]]["@type"] == "Person"
    )
    assert [r[0] for r in reviews] == ["carol", "carol", "dev", "dev"]  # each checker, each output
    assert all(r[1].endswith(": approved") for r in reviews)


def test_the_crate_keeps_inside_what_the_bundle_keeps_inside(released):
    """No figure behind a suppressed cell (its true value or unit count), no filter or mask expression."""
    _, a, _, folder = released
    text = (folder / CRATE_METADATA).read_text()
    suppressed = next(c for c in a.report.cells if c.status.value == "suppressed")
    for figure in (suppressed.figures["value"], suppressed.figures["published"]):
        assert not re.search(rf"(?<![0-9a-f.]){figure}(?![0-9a-f.])", text), figure
    assert "figures" not in text and "dominance" not in text and "WHERE" not in text.upper().replace("WHERE (", "")
