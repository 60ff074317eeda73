"""The client's side of data-sharing applications: apply, read the policy's guidance, submit; and, for a
department's data owners, decide.

    >>> app = client.apply({"project": "p-skills", "title": "…", "purpose": "skills_research", …})  # doctest: +SKIP
    >>> app["assessment"]["blockers"]                 # what would block approval, and why   # doctest: +SKIP
    >>> client.submit_application(app["id"])                                                  # doctest: +SKIP
    >>> client.decide_application(app["id"], "approve", conditions={"columns": {…}})          # doctest: +SKIP

Applications come back as the server's JSON (``trust.service.agreements.ApplicationView.to_json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ApplicationMethods:
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:  # provided by Client
        raise NotImplementedError

    def apply(self, application: Mapping[str, Any]) -> dict[str, Any]:
        """Draft an application (or an amendment: ``amends: True``); it comes back with the policy's guidance."""
        return dict(self._request("POST", "/v1/applications", json=dict(application)).json())

    def change_application(self, application_id: str, application: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self._request("PUT", f"/v1/applications/{application_id}", json=dict(application)).json())

    def application(self, application_id: str) -> dict[str, Any]:
        return dict(self._request("GET", f"/v1/applications/{application_id}").json())

    def applications(self, state: str | None = None) -> list[dict[str, Any]]:
        params = {"state": state} if state else None
        return list(self._request("GET", "/v1/applications", params=params).json()["applications"])

    def submit_application(self, application_id: str) -> dict[str, Any]:
        return dict(self._request("POST", f"/v1/applications/{application_id}/submit").json())

    def withdraw_application(self, application_id: str) -> dict[str, Any]:
        return dict(self._request("POST", f"/v1/applications/{application_id}/withdraw").json())

    def decide_application(
        self, application_id: str, decision: str, *, conditions: Mapping[str, Any] | None = None, note: str = ""
    ) -> dict[str, Any]:
        """A data owner's decision on their department's part: approve (optionally with conditions) or reject."""
        body = {"decision": decision, "conditions": dict(conditions or {}), "note": note}
        return dict(self._request("POST", f"/v1/applications/{application_id}/decisions", json=body).json())

    def agreement_history(self, project: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/v1/agreements/{project}").json()["versions"])
