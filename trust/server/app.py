"""The trust's HTTP API (FastAPI), over the same service layer the embedded session uses.

Every request, including one for a path that does not exist, must carry a valid bearer token;
the middleware authenticates before routing, and only then may the body be read: ``guard.Guard``,
around everything, limits each body's size, pace and JSON nesting. Errors are the ``TrustError`` the service raised,
as JSON with its status; anything else is logged with a reference and answered with only that
reference. Queries run on their own thread pool (``jobs``), so health, catalogue and output
requests stay quick while long queries run.

    GET  /v1/health                   the server, its queue, and each dataset's status and version
    GET  /v1/me                       who the token belongs to, and their projects
    GET  /v1/catalog[?project=]       datasets, columns, roles, and which of my projects may use each
    GET  /v1/catalog/{dataset}        one dataset, with the datasets it links to on which keys
    GET  /v1/search?q=[&project=]     datasets ranked by relevance to q, with why each matched
    GET  /v1/dcat                     the catalogue as DCAT JSON-LD (metadata only)
    POST /v1/queries[?wait=s]         {sql, project}: 200 with the output, or 202 with progress
    GET  /v1/queries/{id}[?wait=s]    poll a query: 200 output, 202 progress, or its error
    DELETE /v1/queries/{id}           cancel a query: 200 with its state once stopped (202 while stopping)
    GET  /v1/outputs[?project=]       my projects' outputs, newest first
    GET  /v1/outputs/{id}             one output: Arrow IPC (Accept: application/vnd.apache.arrow.stream) or JSON
    ...  /v1/releases…                release requests, reviews and bundles (trust/server/releases.py)
    ...  /checker/…                   the output checkers' pages, with their own sign-in (trust/server/checker.py)
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from trust import wire
from trust.catalog import Dataset, Status
from trust.errors import TrustError, UnknownName
from trust.outputs.output import Output
from trust.server.agreements import add_agreement_routes, is_public_path
from trust.server.checker import OPEN_PATHS, add_checker_pages, is_checker_path
from trust.server.guard import Guard, Limits, Refused, admit, problem
from trust.server.jobs import QueryJob, QueryJobs
from trust.server.releases import add_release_routes
from trust.service import Trust, User

log = logging.getLogger("trust.server")
API_VERSION = "1"
MAX_WAIT_S = 10.0


class QueryRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=1_000_000)
    project: str = Field(min_length=1, max_length=200)


def _internal(exc: BaseException, where: str) -> JSONResponse:
    ref = secrets.token_hex(4)
    log.error("internal error %s in %s", ref, where, exc_info=exc)
    return problem(
        500, "internal_error", f"The trust hit an internal error; it has been logged (reference {ref}).", reference=ref
    )


def trust_error_response(exc: TrustError, where: str) -> JSONResponse:
    if exc.http_status >= 500 and exc.code == "configuration_error":
        return _internal(exc, where)  # its message names files and credentials: operators only
    return JSONResponse(wire.error_body(exc), status_code=exc.http_status)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _wants_arrow(request: Request) -> bool:
    return wire.ARROW_STREAM in request.headers.get("accept", "") or request.query_params.get("format") == "arrow"


def create_app(trust: Trust, *, workers: int = 8) -> FastAPI:
    jobs = QueryJobs(trust, workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Bind the catalogue now rather than on the first query (``trust serve`` has done it already);
        # a department that is down or hanging leaves its datasets unavailable and retried in the background.
        stop = threading.Event()
        retry = threading.Thread(target=_keep_binding, args=(trust, stop), name="trust-catalog", daemon=True)
        retry.start()
        await run_in_threadpool(_resume_releases, trust)  # before the server says it is ready
        yield
        stop.set()
        jobs.shutdown()
        trust.catalog.shutdown()
        # DuckDB's threads must not outlive the interpreter (it aborts): let a binding still reading finish.
        await run_in_threadpool(retry.join, 10.0)

    app = FastAPI(
        title="Labour Market Data Trust",
        version=API_VERSION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v1/openapi.json",
        lifespan=lifespan,
    )
    app.state.trust, app.state.jobs = trust, jobs

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        if is_checker_path(request.url.path):  # the checkers' pages sign in with a session cookie instead
            return await call_next(request)
        if is_public_path(request.url.path):  # the public register of agreements: no sign-in
            return await call_next(request)
        try:
            user = await run_in_threadpool(trust.access.authenticate, _bearer(request))
        except TrustError as exc:
            log.warning(
                "refused %s %s from %s: %s",
                request.method,
                request.url.path,
                request.client.host if request.client else "?",
                exc.code,
            )
            response: Response = trust_error_response(exc, "authenticate")
            response.headers["WWW-Authenticate"] = 'Bearer realm="trust"'
            return response
        except Exception as exc:  # noqa: BLE001 - the answer must not leak what went wrong
            return _internal(exc, "authenticate")
        request.state.user = user
        admit(request.scope, user.name)  # only now may the guard hand the body on
        response = await call_next(request)
        log.info(
            "%s %s %s user=%s %.3fs",
            request.method,
            request.url.path,
            response.status_code,
            user.name,
            time.perf_counter() - started,
        )
        return response

    @app.exception_handler(TrustError)
    async def on_trust_error(request: Request, exc: TrustError) -> JSONResponse:
        return trust_error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        invalid = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if invalid is not None:  # name the problem and where, never echo the body
            why = (invalid.get("ctx") or {}).get("error", "it could not be decoded")
            at = invalid.get("loc", ())[-1]
            return problem(400, "bad_request", f"The request body is not valid JSON: {why} (at character {at}).")
        fields = sorted({".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in errors})
        return problem(400, "bad_request", f"The request is malformed; check {', '.join(fields) or 'its body'}.")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc, Refused):  # the guard stopped reading the body
            return exc.response()
        if exc.status_code == 400:  # FastAPI could not parse the body (a number too long, say)
            return problem(400, "bad_request", "The request body could not be read as JSON; check that it is.")
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, f"{request.method} {request.url.path} is not part of the trust's API.")

    @app.exception_handler(Exception)
    async def on_internal(request: Request, exc: Exception) -> JSONResponse:
        return _internal(exc, request.url.path)

    def me(request: Request) -> User:
        user: User = request.state.user
        return user

    # -- read-only ---------------------------------------------------------------------------
    @app.get("/v1/health")
    def health(request: Request) -> dict[str, Any]:
        datasets = trust.catalog.statuses()
        return {
            "status": "ok" if all(d.status is Status.AVAILABLE for d in datasets) else "degraded",
            "datasets": [d.to_json() for d in datasets],
            "api": API_VERSION,
            "user": me(request).name,
            "queries": jobs.counts(),
            "query_timeout_s": trust.config.query_timeout_s,
            "workers": workers,
        }

    @app.get("/v1/me")
    def whoami(request: Request) -> dict[str, Any]:
        user = me(request)
        projects = trust.access.member_projects(user.name)
        return {
            "user": user.name,
            "roles": list(user.roles),
            "organisation": user.organisation,
            "projects": [_project_json(p) for p in projects.values()],
        }

    @app.get("/v1/catalog")
    def catalog(request: Request, project: str | None = None, search: str | None = None) -> dict[str, Any]:
        entries = trust.catalog.for_user(me(request), project)
        if search:
            t = search.lower()
            entries = [
                (ds, p)
                for ds, p in entries
                if t in ds.id
                or t in ds.title.lower()
                or t in ds.description.lower()
                or any(t in c.name or t in c.description.lower() for c in ds.columns)
            ]
        return {"project": project, "datasets": [_dataset_json(ds, p) for ds, p in entries]}

    @app.get("/v1/catalog/{dataset_id}")
    def dataset(request: Request, dataset_id: str, project: str | None = None) -> dict[str, Any]:
        for ds, usable in trust.catalog.for_user(me(request), project):
            if ds.id == dataset_id.lower():
                links = [link.to_json() for link in trust.catalog.page(ds.id).links]
                return {**_dataset_json(ds, usable), "links": links}
        trust.catalog.bound().get(dataset_id)  # raises UnknownName with "did you mean"
        raise UnknownName(f"No dataset {dataset_id!r} in the catalogue.", dataset=dataset_id)

    @app.get("/v1/search")
    def search(request: Request, q: str = "", project: str | None = None, limit: int = 20) -> dict[str, Any]:
        hits = trust.catalog.search(q, me(request), project=project, limit=max(1, min(limit, 100)))
        return {"query": q, "results": [{**hit.to_json(), "usable_by": list(usable)} for hit, usable in hits]}

    @app.get("/v1/dcat")
    def dcat(request: Request) -> Response:
        body = trust.catalog.dcat(str(request.base_url))
        return JSONResponse(body, media_type="application/ld+json")

    @app.get("/v1/outputs")
    def outputs(request: Request, project: str | None = None) -> dict[str, Any]:
        return {"outputs": [s.to_json() for s in trust.queries.outputs(me(request).name, project)]}

    @app.get("/v1/outputs/{output_id}")
    def output(request: Request, output_id: str) -> Response:
        return _output_response(request, trust, trust.queries.output(me(request).name, output_id))

    # -- queries -----------------------------------------------------------------------------
    @app.post("/v1/queries")
    async def submit(request: Request, body: QueryRequest, wait: float = 2.0) -> Response:
        key = request.headers.get("idempotency-key")
        job = jobs.submit(me(request).name, body.project, body.sql, key[:200] if key else None)
        return await _answer(request, trust, job, wait)

    @app.get("/v1/queries/{job_id}")
    async def poll(request: Request, job_id: str, wait: float = 2.0) -> Response:
        return await _answer(request, trust, jobs.get(me(request).name, job_id), wait)

    @app.delete("/v1/queries/{job_id}")
    async def cancel(request: Request, job_id: str) -> Response:
        job = jobs.cancel(me(request).name, job_id)
        future = asyncio.wrap_future(job.future)
        await asyncio.wait({future}, timeout=MAX_WAIT_S)
        if future.done():
            future.exception()  # retrieved: the job's own outcome is in its state
        return JSONResponse(job.progress(), status_code=200 if future.done() else 202)

    add_routes(app, trust)
    # Added last, so outermost: it sees every body before anything in the app reads it.
    app.add_middleware(
        Guard,
        limits=Limits.from_config(trust.config),
        json_paths=lambda path: not is_checker_path(path),
        open_paths=OPEN_PATHS,
    )
    return app


def add_routes(app: FastAPI, trust: Trust) -> None:
    """The airlock's routes: the release API and the output checkers' pages."""
    add_release_routes(app, trust)
    add_agreement_routes(app, trust)
    add_checker_pages(app, trust)


def _resume_releases(trust: Trust) -> None:
    try:
        released = trust.airlock.resume()
    except Exception:  # noqa: BLE001 - the server must start; the approved requests wait for the next start
        log.exception("could not resume approved releases")
        return
    if released:
        log.info("released %d approved request(s) left by an earlier run: %s", len(released), ", ".join(released))


async def _answer(request: Request, trust: Trust, job: QueryJob, wait: float) -> Response:
    """The output if the job finishes within ``wait`` seconds, else 202 with its progress."""
    future = asyncio.wrap_future(job.future)
    await asyncio.wait({future}, timeout=min(max(wait, 0.0), MAX_WAIT_S))
    if not future.done():
        return JSONResponse(job.progress(), status_code=202, headers={"Location": f"/v1/queries/{job.id}"})
    exc = future.exception()
    if isinstance(exc, TrustError):
        return trust_error_response(exc, f"query {job.id}")
    if exc is not None:
        return _internal(exc, f"query {job.id}")
    return await run_in_threadpool(_output_response, request, trust, future.result(), job.id)


def _output_response(request: Request, trust: Trust, out: Output, job_id: str | None = None) -> Response:
    meta = wire.output_meta(out, _datasets_read(trust, out))
    if job_id:
        meta["query"] = job_id
    headers = {"X-Trust-Output": out.id}
    if _wants_arrow(request):
        return Response(wire.output_to_arrow(out, meta), media_type=wire.ARROW_STREAM, headers=headers)
    if out.table.num_rows > wire.JSON_MAX_ROWS:
        return problem(
            406,
            "too_large_for_json",
            f"Output {out.id} has {out.table.num_rows:,} rows; JSON is for up to {wire.JSON_MAX_ROWS:,}. "
            f"Ask for Arrow (Accept: {wire.ARROW_STREAM}).",
            output=out.id,
        )
    return JSONResponse(wire.output_to_json(out, meta), headers=headers)


def _datasets_read(trust: Trust, out: Output) -> dict[str, dict[str, Any]]:
    read = {}
    for ds in trust.catalog.bound():
        if ds.id in out.fingerprints:
            read[ds.id] = {"department": ds.department, "title": ds.title, "rows": ds.row_count}
    return read


def _project_json(p: dict[str, Any]) -> dict[str, Any]:
    return {k: p.get(k) for k in ("id", "title", "purpose", "legal_gateway", "datasets", "expires")}


def _dataset_json(ds: Dataset, usable_by: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": ds.id,
        "department": ds.department,
        "title": ds.title,
        "description": ds.description,
        "flags": list(ds.flags),
        "unit_key": ds.unit_key,
        "status": ds.status.value,
        "reason": ds.reason,
        "version": ds.version,
        "rows": ds.row_count if ds.files else None,
        "size_bytes": ds.size_bytes if ds.files else None,
        "fingerprint": ds.fingerprint[:16] if ds.files else None,
        "usable_by": list(usable_by),
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "role": c.role.value,
                "description": c.description,
                "unit": c.unit,
                "flags": list(c.flags),
            }
            for c in ds.columns
        ],
    }


def _keep_binding(trust: Trust, stop: threading.Event) -> None:
    """Bind the catalogue, then retry unavailable datasets every ``catalog_retry_s`` until ``stop``."""
    try:
        trust.catalog.bound()
    except Exception:  # noqa: BLE001 - the catalogue itself (its YAML) is broken: logged, retried
        log.exception("could not read the catalogue")
    while not stop.wait(trust.config.catalog_retry_s):
        try:
            back = trust.catalog.retry()
        except Exception:  # noqa: BLE001
            log.exception("retrying unavailable datasets failed")
            continue
        if back:
            log.info("available again: %s", ", ".join(back))
