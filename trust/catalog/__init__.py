"""Registrations, discovery from Parquet footers, and access lists."""

from trust.catalog.load import load_catalog
from trust.catalog.model import Catalog, Column, Dataset, FileFooter, Role
from trust.catalog.register import access_for, register

__all__ = ["Catalog", "Column", "Dataset", "FileFooter", "Role", "access_for", "load_catalog", "register"]
