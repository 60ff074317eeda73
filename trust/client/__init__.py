"""The analyst's side: ``Client`` over HTTP, the catalogue it returns, Jupyter display and magic."""

from trust.client.catalogue import Catalogue, ColumnInfo, DatasetInfo
from trust.client.client import Client, ServerUnavailable

__all__ = ["Catalogue", "Client", "ColumnInfo", "DatasetInfo", "ServerUnavailable"]
