"""Registrations, discovery from Parquet footers, versions and access lists."""

from trust.catalog.load import load_catalog
from trust.catalog.model import Catalog, Column, Dataset, FileFooter, Role, Status
from trust.catalog.register import BindFailed, access_for, bind_dataset, problems

__all__ = [
    "BindFailed",
    "Catalog",
    "Column",
    "Dataset",
    "FileFooter",
    "Role",
    "Status",
    "access_for",
    "bind_dataset",
    "load_catalog",
    "problems",
]
