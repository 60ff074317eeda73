"""The catalogue as DCAT (JSON-LD, DCAT v3 / DCAT-AP terms), for government catalogues to harvest.

``trust catalog export --format dcat`` and ``GET /v1/dcat`` write it. It holds metadata only:
titles, descriptions, publishers, keywords and how to ask for access. Never data values, row
counts, file sizes or the departments' storage locations: the access URL is the trust's own API,
since data is reached only through governed queries.

    >>> from trust.catalog import load_catalog
    >>> from trust.config import REPO_ROOT
    >>> doc = to_dcat(load_catalog(REPO_ROOT / "catalog"), "https://trust.example")
    >>> doc["@type"], len(doc["dcat:dataset"]) > 0
    ('dcat:Catalog', True)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from trust.catalog.model import Catalog, Dataset

PARQUET = "application/vnd.apache.parquet"
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
RESTRICTED = "http://publications.europa.eu/resource/authority/access-right/RESTRICTED"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}
TRUST_NAME = "Labour Market Data Trust"
DEPARTMENTS = {  # the publishers' full names; a department not listed is named by its short name
    "DWP": "Department for Work and Pensions",
    "HMRC": "HM Revenue and Customs",
    "DfE": "Department for Education",
    "DESNZ": "Department for Energy Security and Net Zero",
}


def _text(value: str) -> dict[str, str]:
    return {"@value": value, "@language": "en"}


def _agent(iri: str, name: str) -> dict[str, Any]:
    return {"@id": iri, "@type": "foaf:Agent", "foaf:name": name}


def to_dcat(catalog: Catalog, base_url: str) -> dict[str, Any]:
    """A ``dcat:Catalog`` of every registered dataset, with IRIs under the trust's ``base_url``."""
    base = base_url.rstrip("/")
    return {
        "@context": CONTEXT,
        "@id": f"{base}/v1/dcat",
        "@type": "dcat:Catalog",
        "dct:title": _text(f"{TRUST_NAME} catalogue"),
        "dct:description": _text(
            "Datasets the departments make available through the trust for governed, disclosure-controlled "
            "queries by approved projects. The data stays at each department; only protected aggregates leave."
        ),
        "dct:publisher": _agent(f"{base}/#trust", TRUST_NAME),
        "foaf:homepage": {"@id": f"{base}/"},
        "dcat:dataset": [_dataset(ds, base) for ds in sorted(catalog, key=lambda d: d.id)],
    }


def _dataset(ds: Dataset, base: str) -> dict[str, Any]:
    iri = f"{base}/v1/catalog/{quote(ds.id)}"
    department = DEPARTMENTS.get(ds.department, ds.department)
    keywords = list(dict.fromkeys([*ds.tags, *(c.name for c in ds.columns if c.role.value != "direct_identifier")]))
    return {
        "@id": f"{iri}#dataset",
        "@type": "dcat:Dataset",
        "dct:identifier": ds.id,
        "dct:title": _text(ds.title),
        "dct:description": _text(ds.description or ds.title),
        "dct:publisher": _agent(f"{base}/#department-{quote(ds.department.lower())}", department),
        "dcat:keyword": [_text(k) for k in keywords],
        "dct:accessRights": {"@id": RESTRICTED},
        "dcat:landingPage": {"@id": iri},
        "dcat:distribution": [
            {
                "@id": f"{iri}#distribution",
                "@type": "dcat:Distribution",
                "dct:title": _text(f"{ds.title}: governed queries through the trust"),
                "dcat:accessURL": {"@id": iri},
                "dcat:mediaType": {"@id": IANA_MEDIA_TYPES + PARQUET},
                "dct:accessRights": {"@id": RESTRICTED},
                "rdfs:comment": _text(
                    "Held as Parquet at the department; an approved project queries it through the trust's API "
                    "and receives only disclosure-controlled aggregates."
                ),
            }
        ],
    }
