"""The analyst's client: the trust's HTTP API behind the same interface as the embedded session.

    >>> client = trust.Client("http://trust.example:8400", token=os.environ["TRUST_TOKEN"])  # doctest: +SKIP
    >>> out = client.sql("SELECT region, count(*) AS n FROM dwp.uc_claims GROUP BY region",
    ...                  project="demo-employment-support")                                  # doctest: +SKIP
    >>> out.to_pandas()                                                                       # doctest: +SKIP

Errors come back as the same ``trust.TrustError`` subclasses the service raised. Reads and polls
are retried on connection failures; a query is submitted with an idempotency key, so a retried
submission joins the first instead of running twice. A query that takes more than a moment shows
its progress (in Jupyter, a line that updates in place; in a terminal, on stderr).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NoReturn

import httpx

from trust import wire
from trust.client.applications import ApplicationMethods
from trust.client.catalogue import CatalogueCalls, DatasetInfo
from trust.client.progress import Progress, progress_for
from trust.client.releases import ReleaseMethods
from trust.errors import ConfigurationError, QueryCancelled, QueryTimeout, TrustError
from trust.outputs.output import Output, OutputSummary

RETRY_STATUSES = frozenset({502, 503, 504})
FIRST_WAIT_S = 1.0  # the server holds a submission this long before answering "still running"
POLL_WAIT_S = 1.0  # so progress moves about once a second


class ServerUnavailable(TrustError):
    """The trust server could not be reached, or kept failing, after retries."""

    http_status = 503
    code = "server_unavailable"


class Client(ReleaseMethods, ApplicationMethods):
    """A connection to a trust server, as one user (the token's)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        project: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        progress: bool | Callable[[Mapping[str, Any]], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = url or os.environ.get("TRUST_URL")
        token = token or os.environ.get("TRUST_TOKEN")
        if not url:
            raise ConfigurationError("No trust server URL: pass Client(url, ...) or set TRUST_URL.")
        if not token:
            raise ConfigurationError(
                "No token: pass Client(url, token=...) or set TRUST_TOKEN. "
                "An administrator issues one with `trust tokens issue USER`."
            )
        self.url = url.rstrip("/")
        self.project = project or os.environ.get("TRUST_PROJECT") or None
        self.retries = max(0, retries)
        self.progress = progress
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "trust-client/1"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    def __repr__(self) -> str:  # never the token
        return f"Client({self.url!r}, project={self.project!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the session interface ---------------------------------------------------------------
    def sql(self, text: str, project: str | None = None) -> Output:
        """Run one governed query; the protected output, or the ``TrustError`` that refused it.

        Ctrl-C or a kernel interrupt while it waits cancels the query on the server: ``QueryCancelled``."""
        project = self._project(project)
        submission: dict[str, Any] = {
            "json": {"sql": text, "project": project},
            "headers": {"Idempotency-Key": uuid.uuid4().hex, "Accept": wire.ARROW_STREAM},
        }
        progress: Progress | None = None
        deadline: float | None = None
        query: str | None = None
        try:
            response = self._request("POST", "/v1/queries", params={"wait": FIRST_WAIT_S}, **submission)
            while response.status_code == 202:
                state = response.json()
                query = state["query"]
                if deadline is None:  # the server's own timer stops the query; this only guards a lost server
                    deadline = time.monotonic() + 2 * float(state.get("timeout_s", 60)) + 30
                if time.monotonic() > deadline:
                    raise QueryTimeout(
                        f"The trust did not finish query {state['query']} in time; "
                        "its output, if any, will appear in client.outputs().",
                        query=state["query"],
                    )
                if progress is None:
                    progress = progress_for(self.progress)
                progress.update(state)
                response = self._request(
                    "GET",
                    f"/v1/queries/{state['query']}",
                    params={"wait": POLL_WAIT_S},
                    headers={"Accept": wire.ARROW_STREAM},
                )
        except KeyboardInterrupt:
            if progress is not None:
                progress.close()
                progress = None
            self._cancel(query, submission)
        finally:
            if progress is not None:
                progress.close()
        return self._output(response)

    def _cancel(self, query: str | None, submission: dict[str, Any]) -> NoReturn:
        """Stop the query this client was waiting for when it was interrupted: ``QueryCancelled`` once the
        server has stopped it; the interrupt itself if the query had finished first (its output stands)."""
        if query is None:  # interrupted while submitting: the same key finds the query (or starts it, to stop it)
            found = self._request("POST", "/v1/queries", params={"wait": 0}, **submission)
            if found.status_code != 202:
                raise KeyboardInterrupt
            query = str(found.json()["query"])
        state = self._request("DELETE", f"/v1/queries/{query}").json()
        while state.get("state") in ("queued", "running"):  # still stopping: a poll answers QueryCancelled
            polled = self._request("GET", f"/v1/queries/{query}", params={"wait": POLL_WAIT_S})
            if polled.status_code != 202:
                break
            state = polled.json()
        if state.get("state") == "cancelled":
            raise QueryCancelled(str(state.get("message") or f"Query {query} cancelled."), query=query)
        raise KeyboardInterrupt  # it ended before the cancel reached it: client.outputs() has its output

    # -- outputs -----------------------------------------------------------------------------
    def outputs(self, project: str | None = None) -> list[OutputSummary]:
        """Your projects' outputs, newest first."""
        params = {"project": project} if project else {}
        body = self._request("GET", "/v1/outputs", params=params).json()
        return [OutputSummary.from_json(o) for o in body["outputs"]]

    def output(self, output_id: str) -> Output:
        """One stored output (of one of your projects)."""
        return self._output(self._request("GET", f"/v1/outputs/{output_id}", headers={"Accept": wire.ARROW_STREAM}))

    # -- catalogue and identity --------------------------------------------------------------
    @property
    def catalog(self) -> CatalogueCalls:
        """``client.catalog(project=None)``: every dataset, its columns and roles, and which of your
        projects may use it; ``client.catalog.search("earnings by region")``: datasets ranked by relevance."""
        return CatalogueCalls(lambda path, params: self._request("GET", path, params=params).json())

    def dataset(self, dataset_id: str, project: str | None = None) -> DatasetInfo:
        params = {"project": project} if project else {}
        return DatasetInfo.from_json(self._request("GET", f"/v1/catalog/{dataset_id}", params=params).json())

    def me(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/me").json())

    def projects(self) -> list[dict[str, Any]]:
        return list(self.me()["projects"])

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/health").json())

    # -- plumbing ----------------------------------------------------------------------------
    def _project(self, project: str | None) -> str:
        chosen = project or self.project
        if not chosen:
            raise ConfigurationError(
                "Which project? Pass project=... (or Client(..., project=...)); client.projects() lists yours."
            )
        return chosen

    def _output(self, response: httpx.Response) -> Output:
        if response.headers.get("content-type", "").startswith(wire.ARROW_STREAM):
            out = wire.output_from_arrow(response.content)
        else:
            out = wire.output_from_json(response.json())
        return dataclasses.replace(out, origin=self)  # so out.request_release(...) asks this server

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, retried on connection failures and gateway errors; errors become ``TrustError``."""
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ServerUnavailable(
                        f"The trust server at {self.url} could not be reached "
                        f"({type(exc).__name__}) after {attempt + 1} attempts. "
                        "Check the URL and that the server is running."
                    ) from None
            else:
                if response.status_code < 400:
                    return response
                body = _json_or_none(response)
                is_trust_error = isinstance(body, dict) and "error" in body
                if is_trust_error or response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    raise wire.error_from_body(response.status_code, body)
            time.sleep(min(4.0, 0.25 * 2**attempt) * (0.5 + random.random()))
            attempt += 1


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
