"""Data read in place must be the data that was registered: rows, files and columns changed at the
source, over HTTP and S3, while the trust runs and across a restart (issue 13)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.faults.conftest import DEMO, DFE_QUERY, DWP_QUERY, HMRC_QUERY, Source
from trust.catalog import Status
from trust.errors import DatasetChanged, NotAuthorised, TrustError
from trust.server.checker_views import output_view
from trust.service import Trust


def events(t: Trust, kind: str) -> list[dict]:
    return [dict(e.payload) for e in t.audit.events() if e.kind == kind]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.slice(0, int(t.num_rows * 0.7)), "rows"),  # 30% of rows dropped
        (lambda t: pa.concat_tables([t, t.slice(0, 500)]), "rows"),  # 500 appended
        (
            lambda t: t.take(pc.sort_indices(t, [("person_id", "descending")])),
            "files rewritten",
        ),  # same rows, reordered
    ],
    ids=["rows-dropped", "rows-appended", "rewritten"],
)
def test_a_file_replaced_while_the_trust_runs_is_refused_not_served(source: Source, change, words):
    t = source.configure()
    ana = t.session("ana", DEMO)
    first = ana.sql(DWP_QUERY)
    assert first.versions == {"dwp.uc_claims": "dwp.uc_claims@1"}
    source.rewrite(source.uc_file(), change)

    with pytest.raises(DatasetChanged) as caught:
        ana.sql(DWP_QUERY)
    message = caught.value.message
    assert "dwp.uc_claims (DWP) has changed at its source since version dwp.uc_claims@1" in message
    assert words in message and "trust catalog refresh dwp.uc_claims" in message
    assert caught.value.http_status == 409
    (event,) = events(t, "dataset_changed")
    assert event["dataset"] == "dwp.uc_claims" and event["version"] == "dwp.uc_claims@1"
    assert ana.sql(DFE_QUERY).table.num_rows == 1  # another department answers as before

    again = Trust.open(source.home)  # a restart does not adopt the new data
    assert again.catalog.bound().get("dwp.uc_claims").status is Status.CHANGED
    with pytest.raises(DatasetChanged):
        again.session("ana", DEMO).sql(DWP_QUERY)
    assert len(events(again, "dataset_changed")) == 1  # the same change is recorded once


def test_only_its_data_owner_accepts_a_new_version_and_earlier_outputs_are_flagged(source: Source):
    t = source.configure()
    t.access.add_user("dora", ["data_owner"], "DWP")
    t.access.add_user("hugh", ["data_owner"], "HMRC")
    ana = t.session("ana", DEMO)
    before = ana.sql(DWP_QUERY)
    source.rewrite(source.uc_file(), lambda tb: tb.slice(0, tb.num_rows - 100))
    with pytest.raises(DatasetChanged):
        ana.sql(DWP_QUERY)

    with pytest.raises(NotAuthorised, match="Only DWP's data owners"):
        t.catalog.refresh("hugh", "dwp.uc_claims")  # another department's data owner
    with pytest.raises(NotAuthorised):
        t.catalog.refresh("ana", "dwp.uc_claims")
    version = t.catalog.refresh("dora", "dwp.uc_claims")
    assert version.id == "dwp.uc_claims@2" and version.accepted_by == "dora"
    (refreshed,) = events(t, "dataset_refreshed")
    assert refreshed["previous"] == "dwp.uc_claims@1" and refreshed["version"] == "dwp.uc_claims@2"
    assert any("rows" in c for c in refreshed["changes"])

    after = ana.sql(DWP_QUERY)
    assert after.versions == {"dwp.uc_claims": "dwp.uc_claims@2"}
    stale = t.catalog.stale(before.versions)
    assert stale == {"dwp.uc_claims": "superseded by dwp.uc_claims@2"}
    assert t.catalog.stale(after.versions) == {}
    view = output_view(t.queries.output("carol", before.id), {}, stale)
    assert [(d.id, d.version, d.stale) for d in view.datasets] == [
        ("dwp.uc_claims", "dwp.uc_claims@1", "superseded by dwp.uc_claims@2")
    ]
    assert [v.id for v in t.catalog.versions("dwp.uc_claims")] == ["dwp.uc_claims@1", "dwp.uc_claims@2"]


def test_a_release_of_outputs_read_before_a_change_carries_the_warning(source: Source):
    t = source.configure()
    ana = t.session("ana", DEMO)
    out = ana.sql(DWP_QUERY)
    request = ana.request_release([out.id], "Regional counts of claimants, for the evaluation report.")
    source.rewrite(source.uc_file(), lambda tb: tb.slice(0, tb.num_rows - 50))
    with pytest.raises(DatasetChanged):
        ana.sql(DWP_QUERY)
    for checker in ("carol", "dev"):
        t.airlock.review(checker, request.id, {out.id: ("approve", "")})
    released = t.airlock.get("ana", request.id)
    assert released.state.value == "released"
    folder = t.airlock.archive("ana", request.id).parent
    datasets = (folder / "outputs" / out.id / "datasets.json").read_text()
    assert '"dwp.uc_claims": "dwp.uc_claims@1"' in datasets and "changed at the source since" in datasets
    readme = (folder / "README.txt").read_text()
    assert f"WARNING: output {out.id} read dwp.uc_claims, changed at the source since" in readme


def test_an_s3_object_replaced_or_added_under_the_pattern_is_a_change(source: Source):
    t = source.configure()
    ana = t.session("ana", DEMO)
    ana.sql(HMRC_QUERY)
    keys = source.s3_keys()
    source.put_s3(keys[-1], source.get_s3(keys[-1]).slice(0, 10))  # an object replaced
    with pytest.raises(DatasetChanged, match=r"hmrc.paye_employments \(HMRC\).*rows"):
        ana.sql(HMRC_QUERY)

    t.access.add_user("hugh", ["data_owner"], "HMRC")
    assert t.catalog.refresh("hugh", "hmrc.paye_employments").id == "hmrc.paye_employments@2"
    ana.sql(HMRC_QUERY)
    source.put_s3(keys[0].replace("part-", "part-9"), source.get_s3(keys[0]))  # a new object under the glob
    with pytest.raises(DatasetChanged, match="files added: part-9"):
        ana.sql(HMRC_QUERY)
    assert [e["changes"] for e in events(t, "dataset_changed")][-1] == [
        f"files added: {keys[0].split('/')[-1].replace('part-', 'part-9')}"
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            lambda t: t.set_column(
                t.schema.get_field_index("region"), "region", pc.cast(pc.utf8_length(t["region"]), pa.int64())
            ),
            "column region: type VARCHAR -> BIGINT",
        ),
        (lambda t: t.drop_columns(["sex"]), "column sex: no longer in the files"),
    ],
    ids=["type-changed", "column-dropped"],
)
def test_a_schema_change_names_the_column_and_leaves_the_rest_working(source: Source, change, words):
    t = source.configure()
    t.session("ana", DEMO).sql(DWP_QUERY)
    for path in sorted((source.data / "dwp" / "uc_claims").glob("*.parquet")):
        source.rewrite(path, change)
    with pytest.raises(DatasetChanged) as caught:
        t.session("ana", DEMO).sql(DWP_QUERY)
    assert words in caught.value.message and "types or names" not in caught.value.message

    again = Trust.open(source.home)  # found at start-up: only that dataset
    catalog = again.catalog.bound()
    assert catalog.get("dwp.uc_claims").status is Status.CHANGED and words in catalog.get("dwp.uc_claims").reason
    assert {ds.id for ds in catalog if ds.status is Status.AVAILABLE} == {
        ds.id for ds in catalog if ds.id != "dwp.uc_claims"
    }
    assert again.session("ana", DEMO).sql(DFE_QUERY).table.num_rows == 1
    pip = "SELECT count(*) AS n FROM dwp.pip_awards"
    assert again.session("ana", "demo-health-research").sql(pip).table.num_rows == 1  # DWP's other dataset


def test_a_pinned_type_the_files_do_not_have_keeps_the_dataset_out(source: Source, tmp_path):
    import shutil

    from trust.config import REPO_ROOT

    catalog_dir = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", catalog_dir)
    yaml = catalog_dir / "dwp.yaml"
    text = yaml.read_text()
    pinned = "      region: {role: dimension, description: Region (ONS code)}\n"
    assert pinned in text
    yaml.write_text(text.replace(pinned, pinned.replace("{role: dimension,", "{role: dimension, type: BIGINT,"), 1))
    t = source.configure(catalog_dir=str(catalog_dir))
    uc = t.catalog.bound().get("dwp.uc_claims")
    assert uc.status is Status.UNAVAILABLE
    assert "column region: type VARCHAR in the files, pinned as BIGINT" in uc.reason
    with pytest.raises(TrustError, match="pinned as BIGINT"):
        t.session("ana", DEMO).sql(DWP_QUERY)
    assert t.session("ana", DEMO).sql(DFE_QUERY).table.num_rows == 1


def test_a_running_server_refuses_a_changed_dataset_and_says_so_in_its_catalogue(source: Source):
    import httpx

    from trust.server.launch import issue_token, launch_trust

    source.configure()
    token = issue_token(source.home, "ana")
    auth = {"Authorization": f"Bearer {token}"}

    def ask(sql: str) -> httpx.Response:
        return httpx.post(
            f"{server.url}/v1/queries",
            params={"wait": 30},
            headers=auth,
            json={"sql": sql, "project": DEMO},
            timeout=60,
        )

    with launch_trust(source.home, workers=2) as server:
        assert ask(DWP_QUERY).status_code == 200
        source.rewrite(source.uc_file(), lambda tb: pa.concat_tables([tb, tb.slice(0, 500)]))  # 500 appended
        refused = ask(DWP_QUERY)
        assert refused.status_code == 409 and refused.json()["error"] == "dataset_changed"
        assert "rows" in refused.json()["message"] and refused.json()["dataset"] == "dwp.uc_claims"
        assert ask(DFE_QUERY).status_code == 200
        listed = {d["id"]: d for d in httpx.get(f"{server.url}/v1/catalog", headers=auth).json()["datasets"]}
        assert listed["dwp.uc_claims"]["status"] == "changed" and "rows" in listed["dwp.uc_claims"]["reason"]
        assert listed["dfe.learners"]["status"] == "available" and listed["dfe.learners"]["version"] == "dfe.learners@1"


def test_the_checkers_page_warns_of_an_output_read_from_a_superseded_version(source: Source):
    import httpx

    from trust.server.launch import serve_in_thread

    t = source.configure()
    t.access.add_user("dora", ["data_owner"], "DWP")
    ana = t.session("ana", DEMO)
    out = ana.sql(DWP_QUERY)
    request = ana.request_release([out.id], "Regional counts of claimants, for the evaluation report.")
    source.rewrite(source.uc_file(), lambda tb: tb.slice(0, tb.num_rows - 100))
    t.catalog.refresh("dora", "dwp.uc_claims")
    session = t.checkers.open(t.access.issue_token("carol").secret)
    with serve_in_thread(t) as url:
        page = httpx.get(f"{url}/checker/requests/{request.id}", cookies={"trust_checker": session.secret})
    assert page.status_code == 200
    assert '<span class="version">dwp.uc_claims@1</span>' in page.text
    assert "Warning: superseded by dwp.uc_claims@2" in page.text
