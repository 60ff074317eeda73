"""The catalogue as DCAT JSON-LD, read back as RDF (rdflib) and checked with SPARQL: what
government catalogues harvest. Metadata only: never data values, row counts or locations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.client.conftest import ana_token, live_url  # noqa: F401  (the real server, reused)
from trust.catalog import load_catalog
from trust.catalog.dcat import PARQUET, to_dcat
from trust.config import REPO_ROOT

rdflib = pytest.importorskip("rdflib", minversion="7.0")
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")  # inside rdflib

BASE = "https://trust.example.gov.uk"
PREFIXES = """
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
"""


def _graph(text: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=text, format="json-ld")


def _ask(graph: rdflib.Graph, query: str) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in row) for row in graph.query(PREFIXES + query))


def _check_dcat(graph: rdflib.Graph, dataset_ids: set[str]) -> None:
    """The DCAT-AP mandatory and recommended properties, as RDF, for every dataset."""
    catalogs = _ask(
        graph,
        """SELECT ?c ?title ?desc ?name WHERE {
             ?c a dcat:Catalog ; dct:title ?title ; dct:description ?desc ; dct:publisher ?p .
             ?p a foaf:Agent ; foaf:name ?name }""",
    )
    assert len(catalogs) == 1 and catalogs[0][3] == "Labour Market Data Trust"
    rows = _ask(
        graph,
        """SELECT ?id ?title ?publisher ?access ?media WHERE {
             ?c a dcat:Catalog ; dcat:dataset ?d .
             ?d a dcat:Dataset ; dct:identifier ?id ; dct:title ?title ; dct:description ?desc ;
                dct:publisher [ a foaf:Agent ; foaf:name ?publisher ] ; dcat:distribution ?dist .
             ?dist a dcat:Distribution ; dcat:accessURL ?access ; dcat:mediaType ?media .
             FILTER(isIRI(?access) && isIRI(?media) && lang(?title) = "en") }""",
    )
    assert {r[0] for r in rows} == dataset_ids and len(rows) == len(dataset_ids)
    assert all(r[4].endswith("/" + PARQUET) for r in rows)
    assert {r[0]: r[2] for r in rows}["hmrc.paye_employments"] == "HM Revenue and Customs"
    keywords = _ask(graph, "SELECT ?id ?k WHERE { ?d a dcat:Dataset ; dct:identifier ?id ; dcat:keyword ?k }")
    assert {i for i, _ in keywords} == dataset_ids
    assert ("hmrc.paye_employments", "earnings") in keywords
    undescribed = _ask(graph, "SELECT ?d WHERE { ?d a dcat:Dataset FILTER NOT EXISTS { ?d dct:description ?x } }")
    assert undescribed == []


def _check_metadata_only(graph: rdflib.Graph, text: str) -> None:
    numbers = [o for o in graph.objects() if isinstance(o, rdflib.Literal) and isinstance(o.toPython(), int | float)]
    assert numbers == []
    assert not any(s in text for s in ("${", "s3://", "part-0000", "*.parquet", "num_rows", "rows"))
    for name in ("nino", "submission_id"):  # direct identifiers are not offered as keywords
        assert f'"{name}"' not in text


def test_the_export_is_dcat_that_rdf_tools_read():
    catalog = load_catalog(REPO_ROOT / "catalog")
    text = json.dumps(to_dcat(catalog, BASE))
    graph = _graph(text)
    _check_dcat(graph, {d.id for d in catalog})
    _check_metadata_only(graph, text)
    iris = {str(s) for s in graph.subjects(rdflib.RDF.type, rdflib.URIRef("http://www.w3.org/ns/dcat#Dataset"))}
    assert iris == {f"{BASE}/v1/catalog/{d.id}#dataset" for d in catalog}


def test_cli_export_writes_dcat_without_any_data(trust, trust_home, tmp_path: Path):
    bound = trust.catalog.bound()  # bound: the trust knows files and row counts, none of which may leave
    assert any(d.files for d in bound)
    out = tmp_path / "catalog.jsonld"
    env = {**os.environ, "TRUST_HOME": str(trust_home)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "trust.cli",
            "catalog",
            "export",
            "--format",
            "dcat",
            "--base-url",
            BASE,
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    graph = _graph(text)
    _check_dcat(graph, {d.id for d in bound})
    _check_metadata_only(graph, text)
    for ds in bound:
        assert all(f.url not in text for f in ds.files)
        assert ds.row_count < 1000 or f"{ds.row_count}" not in text


def test_cli_export_needs_a_format_and_a_writable_file(trust, trust_home, tmp_path: Path):
    env = {**os.environ, "TRUST_HOME": str(trust_home)}
    cli = [sys.executable, "-m", "trust.cli", "catalog", "export"]
    done = subprocess.run([*cli, "--format", "csv"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "invalid choice" in done.stderr
    missing = tmp_path / "no" / "such" / "folder" / "x.jsonld"
    done = subprocess.run(
        [*cli, "--format", "dcat", "-o", str(missing)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and done.stderr.startswith("error: Could not write") and "Traceback" not in done.stderr


def test_the_server_offers_dcat_to_a_token_holder(trust, live_url: str, ana_token: str):  # noqa: F811
    r = httpx.get(f"{live_url}/v1/dcat", headers={"Authorization": f"Bearer {ana_token}"}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    graph = _graph(r.text)
    _check_dcat(graph, {d.id for d in trust.catalog.registrations()})
    _check_metadata_only(graph, r.text)
    assert all(
        str(o).startswith(live_url) for o in graph.objects(None, rdflib.URIRef("http://www.w3.org/ns/dcat#accessURL"))
    )
    assert httpx.get(f"{live_url}/v1/dcat", timeout=30).status_code == 401
