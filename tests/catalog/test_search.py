"""Finding data: ranked search (synonyms, typos, bm25), each dataset's links and projects, through
the catalogue, the embedded service, the command line, the client and the notebook magic."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import trust as trust_package
from tests.client.conftest import ana_token, live_url  # noqa: F401  (the real server, reused)
from trust.catalog import load_catalog
from trust.catalog.links import links
from trust.catalog.search import Glossary, search
from trust.config import REPO_ROOT
from trust.errors import ConfigurationError, TrustError

CATALOG = REPO_ROOT / "catalog"
CASES = yaml.safe_load((Path(__file__).parent / "search_cases.yaml").read_text(encoding="utf-8"))
PAYE = "hmrc.paye_employments"
TRUST = [sys.executable, "-m", "trust.cli"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG)


@pytest.fixture(scope="module")
def glossary():
    return Glossary.load(CATALOG)


def _rank(hits, dataset_id: str) -> int | None:
    ids = [h.dataset.id for h in hits]
    return ids.index(dataset_id) + 1 if dataset_id in ids else None


# -- the search itself ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=[f"{c['query']}->{c['dataset']}" for c in CASES])
def test_searches_analysts_make_find_the_dataset_they_want(catalog, glossary, case):
    hits = search(catalog, case["query"], glossary)
    rank = _rank(hits, case["dataset"])
    assert rank is not None and rank <= case["rank_at_most"], [(h.dataset.id, h.why) for h in hits]


@pytest.mark.parametrize("query", ["earnings", "salary", "earnings by region", "earnigs", "jobseeker by region"])
def test_hits_are_ordered_by_words_matched_then_bm25(catalog, glossary, query):
    hits = search(catalog, query, glossary)
    assert len(hits) >= 2
    keys = [(-h.matched, -h.score) for h in hits]
    assert keys == sorted(keys)
    assert all(h.words == hits[0].words and 1 <= h.matched <= h.words for h in hits)


def test_a_dataset_matching_every_word_ranks_above_one_matching_some(catalog, glossary):
    hits = search(catalog, "earnings by region", glossary)
    assert hits[0].dataset.id == "dwp.uc_claims" and (hits[0].matched, hits[0].words) == (2, 2)
    assert "earnings" in hits[0].why and "region: column region" in hits[0].why
    paye = next(h for h in hits if h.dataset.id == PAYE)
    assert paye.matched == 1 and "region" not in paye.why  # PAYE has no geography: said, not hidden


def test_synonyms_come_from_the_glossary_kept_with_the_catalogue(catalog, glossary):
    assert _rank(search(catalog, "salary", Glossary()), PAYE) is None  # no glossary: the word is nowhere
    hit = search(catalog, "salary", glossary)[0]
    assert hit.dataset.id == PAYE and hit.why.startswith("salary → earnings")
    company = search(catalog, "company", glossary)
    assert company[0].dataset.id == "desnz.businesses" and company[0].why.startswith("company → business")


def test_a_glossary_of_your_own_changes_what_a_word_finds(catalog, tmp_path):
    (tmp_path / "glossary.yml").write_text("groups:\n  study: [homework, learner]\n")
    hits = search(catalog, "homework", Glossary.load(tmp_path))
    assert [h.dataset.id for h in hits][:1] == ["dfe.learners"] and "homework → learner" in hits[0].why


def test_a_typo_is_read_as_the_closest_word_and_said_so(catalog, glossary):
    hits = search(catalog, "earnigs", glossary)
    assert hits[0].dataset.id == PAYE and hits[0].why.startswith("earnigs ≈ earnings")
    assert [h.dataset.id for h in hits] == [h.dataset.id for h in search(catalog, "earnings", glossary)]
    assert search(catalog, "xqzvw", glossary) == []  # nothing close: nothing found, not anything at all


def test_why_names_the_columns_that_matched(catalog, glossary):
    hit = search(catalog, "gross pay", glossary)[0]
    assert hit.dataset.id == PAYE and "column gross_pay" in hit.why


def test_stop_words_alone_find_nothing_and_do_not_dilute(catalog, glossary):
    assert search(catalog, "the data of the", glossary) == []
    plain, wordy = search(catalog, "earnings region", glossary), search(catalog, "the earnings by region", glossary)
    assert [(h.dataset.id, h.matched, h.words) for h in plain] == [(h.dataset.id, h.matched, h.words) for h in wordy]


@pytest.mark.parametrize("query", ['pay" OR *', "NEAR(pay tax)", "gross_pay:pay", "'; DROP TABLE docs; --", "ü ∑ 🙂"])
def test_query_syntax_is_never_passed_to_the_index(catalog, glossary, query):
    search(catalog, query, glossary)  # no error: only quoted words reach FTS5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("   ", "Search for something"),
        ("x" * 201, "at most 200 characters"),
        ("a1 " * 3 + " ".join(f"w{i}" for i in range(13)), "at most 12 words"),
    ],
)
def test_bad_searches_are_one_clear_line(catalog, glossary, query, message):
    with pytest.raises(TrustError, match=message) as caught:
        search(catalog, query, glossary)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: [earnings]\n", "needs 'groups:'"),
        ("groups:\n  earnings: pay\n", "group 'earnings' must be a list"),
        ("groups:\n  earnings: [pay, '']\n", "group 'earnings' must be a list"),
        ("groups: {earnings: [unclosed\n", "glossary.yml line"),
    ],
)
def test_a_bad_glossary_is_clear(tmp_path, text, message):
    (tmp_path / "glossary.yml").write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        Glossary.load(tmp_path)


def test_the_glossary_is_not_read_as_a_department(catalog):
    assert (CATALOG / "glossary.yml").is_file() and {d.department for d in catalog} == {"DWP", "HMRC", "DfE", "DESNZ"}


def test_tags_must_be_a_list_of_words(tmp_path):
    (tmp_path / "x.yaml").write_text(
        "department: X\ndatasets:\n  - {id: x.y, title: t, location: l, unit_key: a, tags: pay, "
        "columns: {a: {role: dimension}}}\n"
    )
    with pytest.raises(ConfigurationError, match="tags must be a list"):
        load_catalog(tmp_path)


def test_search_reads_registrations_not_data(catalog, glossary):
    hit = search(catalog, "earnings", glossary)[0]
    body = hit.to_json()
    assert set(body) == {"id", "title", "department", "description", "score", "matched", "words", "why"}
    assert not any(ds.files for ds in catalog)  # unbound registrations, and still found


def test_docstring_examples_run():
    import trust.catalog.links
    import trust.catalog.search
    import trust.store.text_index

    for module in (trust.catalog.search, trust.catalog.links, trust.store.text_index):
        failed, tried = doctest.testmod(module)
        assert tried > 0 and failed == 0, module.__name__


# -- links and projects ----------------------------------------------------------------------------
def test_links_are_datasets_sharing_a_linkage_key(catalog):
    found = [(link.key, link.dataset) for link in links(catalog, PAYE)]
    assert found == [
        ("person_id", "dfe.learners"),
        ("person_id", "dwp.pip_awards"),
        ("person_id", "dwp.uc_claims"),
        ("employer_id", "desnz.businesses"),
    ]
    assert [(link.key, link.dataset) for link in links(catalog, "desnz.businesses")] == [("employer_id", PAYE)]


def test_a_shared_column_that_is_not_a_linkage_key_is_no_link(tmp_path):
    (tmp_path / "x.yaml").write_text(
        "department: X\ndatasets:\n"
        "  - {id: x.a, title: A, location: l, unit_key: k, columns: {k: {role: linkage_key}, region: {role: dimension}}}\n"
        "  - {id: x.b, title: B, location: l, unit_key: j, columns: {j: {role: linkage_key}, region: {role: dimension}}}\n"
        "  - {id: x.c, title: C, location: l, unit_key: k, columns: {k: {role: dimension}}}\n"
    )
    assert links(load_catalog(tmp_path), "x.a") == []


# -- the embedded service --------------------------------------------------------------------------
def test_the_service_says_which_of_my_projects_may_use_each_hit(trust):
    ana, bob = trust.access.user("ana"), trust.access.user("bob")
    mine = dict((h.dataset.id, usable) for h, usable in trust.catalog.search("earnings", ana))
    assert set(mine[PAYE]) == {"demo-employment-support", "demo-health-research", "demo-skills-earnings"}
    theirs = dict((h.dataset.id, usable) for h, usable in trust.catalog.search("earnings", bob))
    assert theirs[PAYE] == () and theirs["dwp.uc_claims"] == ("demo-dwp-caseload",)
    page = trust.catalog.page(PAYE, bob)
    assert page.usable_by == () and ("employer_id", "desnz.businesses") in [(x.key, x.dataset) for x in page.links]
    with pytest.raises(TrustError, match="not a member"):
        trust.catalog.search("earnings", bob, project="demo-employment-support")


def test_an_embedded_session_searches_as_its_analyst(ana, bob):
    hit, usable = ana.search("salary")[0]
    assert hit.dataset.id == PAYE and "demo-skills-earnings" in usable
    assert dict((h.dataset.id, u) for h, u in bob.search("salary"))[PAYE] == ()


# -- the command line ------------------------------------------------------------------------------
def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_HOME": str(home)}
    return subprocess.run([*TRUST, *args], capture_output=True, text=True, env=env, timeout=120)


def _table_ids(out: str) -> list[str]:
    """The dataset ids of a rich table's rows, in order (each row's first line names it)."""
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│")]
    return [cells[2].strip() for cells in rows if len(cells) > 3 and cells[1].strip().isdigit()]


def test_cli_search_ranks_and_explains(trust, trust_home):
    r = _cli("catalog", "search", "earnings", "by", "region", "--user", "ana", home=trust_home)
    assert r.returncode == 0, r.stderr
    ids = _table_ids(r.stdout)
    assert ids[0] == "dwp.uc_claims" and ids.index(PAYE) == 1 and len(ids) == 5
    assert "why it matched" in r.stdout and "region: column region" in r.stdout
    assert "ana's projects" in r.stdout and "demo-skills-earnings" in r.stdout
    typo = _cli("catalog", "search", "salery", home=trust_home)
    assert typo.returncode == 0 and _table_ids(typo.stdout)[0] == PAYE and "salery ≈ salary → earnings" in typo.stdout


def test_cli_search_without_a_match_or_with_nothing_is_one_line(trust, trust_home):
    r = _cli("catalog", "search", "the", "of", home=trust_home)
    assert r.returncode == 1 and r.stdout.strip().startswith("No dataset matches") and len(r.stdout.splitlines()) == 1
    r = _cli("catalog", "search", "earnings", "--user", "nobody", home=trust_home)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_cli_show_lists_links_and_projects(trust, trust_home):
    r = _cli("catalog", "show", PAYE, "--offline", "--user", "ana", home=trust_home)
    assert r.returncode == 0, r.stderr
    assert "links on person_id to: dfe.learners (DfE), dwp.pip_awards (DWP), dwp.uc_claims (DWP)" in r.stdout
    assert "links on employer_id to: desnz.businesses (DESNZ)" in r.stdout
    assert "ana's projects that may use it: demo-employment-support, demo-health-research, demo-skills-earnings" in (
        r.stdout
    )
    r = _cli("catalog", "show", "dwp.uc_claims", "--offline", "--user", "bob", home=trust_home)
    assert "bob's projects that may use it: demo-dwp-caseload" in r.stdout


# -- the client, over the real server --------------------------------------------------------------
@pytest.fixture
def client(live_url: str, ana_token: str) -> Iterator[trust_package.Client]:  # noqa: F811
    with trust_package.Client(live_url, token=ana_token, progress=False) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "at_most"), [("earnings", 1), ("salary", 1), ("earnigs", 1), ("earnings by region", 2)]
)
def test_client_search_finds_paye(client, query, at_most):
    results = client.catalog.search(query)
    assert PAYE in results.ids and results.ids.index(PAYE) + 1 <= at_most
    hit = results[results.ids.index(PAYE)]
    assert hit.department == "HMRC" and hit.why and "demo-skills-earnings" in hit.usable_by
    assert PAYE in str(results) and "why it matched" in results._repr_html_()


def test_client_search_and_catalogue_keep_working_side_by_side(client, trust):
    assert len(client.catalog()) == len(trust.catalog.registrations())  # client.catalog() as before
    results = client.catalog.search("earnings by region", project="demo-skills-earnings")
    assert {h.id: h.usable_by for h in results}[PAYE] == ("demo-skills-earnings",)
    assert {h.id: h.usable_by for h in results}["dwp.uc_claims"] == ()


def test_client_search_errors_are_trust_errors(client):
    with pytest.raises(TrustError, match="Search for something"):
        client.catalog.search("  ")
    with pytest.raises(TrustError, match="No project"):
        client.catalog.search("earnings", project="demo-nope")


def test_client_dataset_page_shows_links_and_projects(client):
    page = client.dataset(PAYE)
    assert ("employer_id", "desnz.businesses") in [(x.key, x.dataset) for x in page.links]
    assert "demo-skills-earnings" in page.usable_by
    text = str(page)
    assert "links on employer_id to: desnz.businesses (DESNZ)" in text and "usable by your projects:" in text
    assert "links on person_id to:" in page._repr_html_()


# -- the notebook magic ----------------------------------------------------------------------------
@pytest.fixture
def shell(live_url: str, ana_token: str, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("TRUST_URL", live_url)
    monkeypatch.setenv("TRUST_TOKEN", ana_token)
    monkeypatch.setenv("TRUST_PROJECT", "demo-employment-support")
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "trust")
    yield ip
    ip.run_line_magic("unload_ext", "trust")
    InteractiveShell.clear_instance()


def test_magic_search(shell):
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        shell.run_line_magic("trust_search", "earnings by region")
    html = "".join(o.data.get("text/html", "") for o in cap.outputs)
    assert html.index("dwp.uc_claims") < html.index(PAYE) and "why it matched" in html
    with capture_output() as cap:
        shell.run_line_magic("trust_search", "")
    html = "".join(o.data.get("text/html", "") for o in cap.outputs)
    assert "Search for something" in html and "Traceback" not in cap.stdout + cap.stderr + html
