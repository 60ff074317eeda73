"""The output checkers' pages: plain server-rendered HTML, no JavaScript, no build step.

    GET  /checker/login                 sign in with a bearer token
    POST /checker/login                 → an HttpOnly, SameSite=Strict session cookie
    GET  /checker/                      the queue: requests waiting for review
    GET  /checker/requests/{id}         one request: justification, each output's protected table with
                                        cells coloured by status, the per-cell figures, and the review form
    POST /checker/requests/{id}/review  a decision and comment per output
    POST /checker/logout

No form's body is read before its session is found (``guard.admit``), except the sign-in form's.
Every form carries the session's CSRF token, and every POST is refused unless the token matches
and the request comes from these pages' own origin (the sign-in form, before there is a session,
uses a double-submit cookie). Refusals are audited. The pages call only the service layer.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from trust.errors import TrustError, UnknownName
from trust.outputs.release import WAITING_FOR_REVIEW, ReleaseState, check_can_review
from trust.server import checker_views as views
from trust.server.guard import admit
from trust.service import Trust, User
from trust.service.checkers import SESSION_HOURS, CheckerSession

log = logging.getLogger("trust.server")
PREFIX = "/checker"
SESSION_COOKIE = "trust_checker"
LOGIN_COOKIE = "trust_checker_login"  # double-submit CSRF token for the sign-in form
OPEN_PATHS = frozenset({PREFIX + "/login"})  # the one form whose body is read before anyone signs in
TEMPLATES = Path(__file__).parent / "templates" / "checker"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" fill="#0b0c0c"/>'
    '<path d="M4 8l3 3 5-6" stroke="#fff" stroke-width="2" fill="none"/></svg>'
)

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(state_label=views.state_label, state_meaning=views.state_meaning, ReleaseState=ReleaseState)


def is_checker_path(path: str) -> bool:
    """Paths these pages answer, with their own sign-in instead of a bearer token."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    context.setdefault("error", None)
    context.setdefault("notice", None)
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


def _same_origin(request: Request) -> bool:
    """A POST must come from these pages: its Origin (or, failing that, Referer) names this server."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urllib.parse.urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == own
    return True  # neither header: not a browser's cross-site form; the token still has to match


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def _safe_next(target: str | None) -> str:
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/"


def add_checker_pages(app: FastAPI, trust: Trust) -> None:
    def signed_in(request: Request) -> tuple[User, CheckerSession] | None:
        found = trust.checkers.find(request.cookies.get(SESSION_COOKIE))
        if found is not None:
            admit(request.scope, found[0].name)
        return found

    async def refuse_forgery(request: Request, who: str, why: str) -> HTMLResponse:
        await run_in_threadpool(trust.checkers.refuse_csrf, who, request.url.path, why, request.headers.get("origin"))
        log.warning("refused a forged form post to %s (%s)", request.url.path, why)
        return _page(
            "error.html",
            403,
            title="Form refused",
            error="This form was not sent from the trust's own page, or it is out of date, so nothing was "
            "done. Go back to the page, reload it, and try again.",
        )

    def to_login(request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return _redirect(f"{PREFIX}/login?" + urllib.parse.urlencode({"next": target}))

    @app.get(PREFIX, include_in_schema=False)
    def root() -> RedirectResponse:
        return _redirect(PREFIX + "/")

    @app.get(PREFIX + "/static/checker.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(
            (TEMPLATES / "checker.css").read_text(),
            media_type="text/css",
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    @app.get(PREFIX + "/static/icon.svg", include_in_schema=False)
    def icon() -> Response:  # so browsers ask for this, not the API's /favicon.ico
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.get(PREFIX + "/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        response = _page("login.html", title="Sign in", login_csrf=token, next=_safe_next(next))
        _set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
        return response

    @app.post(PREFIX + "/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not _same_origin(request) or not cookie or not hmac.compare_digest(cookie, form.get("csrf", "")):
            return await refuse_forgery(request, "anonymous", "sign-in form token or origin mismatch")
        try:
            session = await run_in_threadpool(trust.checkers.open, form.get("token", "").strip())
        except TrustError as exc:
            return _page(
                "login.html",
                401 if exc.http_status == 401 else 403,
                title="Sign in",
                login_csrf=cookie,
                next=_safe_next(form.get("next")),
                error=exc.message,
            )
        response = _redirect(_safe_next(form.get("next")))
        assert session.secret is not None  # a session just opened carries its secret, once
        _set_cookie(request, response, SESSION_COOKIE, session.secret, max_age=int(SESSION_HOURS * 3600))
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    @app.post(PREFIX + "/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return _redirect(PREFIX + "/login")
        user, session = found
        form = await _form(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, form.get("csrf", "")):
            return await refuse_forgery(request, user.name, "sign-out token or origin mismatch")
        await run_in_threadpool(trust.checkers.close, request.cookies[SESSION_COOKIE])
        response = _redirect(PREFIX + "/login")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    @app.get(PREFIX + "/", include_in_schema=False)
    def queue(request: Request) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        entries = trust.airlock.queue(user.name)
        decided = [r for r in trust.airlock.list(user.name) if r.state not in WAITING_FOR_REVIEW][:25]
        return _page(
            "queue.html",
            title="Requests waiting for review",
            user=user,
            csrf=session.csrf,
            entries=entries,
            decided=decided,
        )

    @app.get(PREFIX + "/requests/{request_id}", include_in_schema=False)
    def request_page(request: Request, request_id: str, done: str | None = None) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        try:
            return _request_page(
                trust, user, session.csrf, request_id, notice="Your review is recorded." if done else None
            )
        except UnknownName as exc:
            return _page("error.html", 404, title="Not found", user=user, csrf=session.csrf, error=exc.message)
        except TrustError as exc:
            return _page(
                "error.html", exc.http_status, title="Not available", user=user, csrf=session.csrf, error=exc.message
            )

    @app.post(PREFIX + "/requests/{request_id}/review", include_in_schema=False)
    async def review(request: Request, request_id: str) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return to_login(request)
        user, session = found
        form = await _form(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, form.get("csrf", "")):
            return await refuse_forgery(request, user.name, "review form token or origin mismatch")
        outputs = [k[len("decision-") :] for k in form if k.startswith("decision-")]
        outputs += [
            k[len("comment-") :] for k in form if k.startswith("comment-") and k[len("comment-") :] not in outputs
        ]
        decisions = {o: (form.get(f"decision-{o}", ""), form.get(f"comment-{o}", "")) for o in outputs}
        try:
            await run_in_threadpool(trust.airlock.review, user.name, request_id, decisions)
        except TrustError as exc:
            try:
                return await run_in_threadpool(
                    _request_page,
                    trust,
                    user,
                    session.csrf,
                    request_id,
                    error=exc.message,
                    status=exc.http_status,
                    form=form,
                )
            except TrustError:
                return _page(
                    "error.html",
                    exc.http_status,
                    title="Not available",
                    user=user,
                    csrf=session.csrf,
                    error=exc.message,
                )
        return _redirect(f"{PREFIX}/requests/{urllib.parse.quote(request_id)}?done=1")


def _request_page(
    trust: Trust,
    user: User,
    csrf: str,
    request_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    release = trust.airlock.get(user.name, request_id)
    outputs = []
    for o in release.outputs:
        out = trust.queries.output(user.name, o.output)
        outputs.append(views.output_view(out, o.cell_reasons, trust.catalog.stale(out.versions)))
    authors = trust.airlock.output_authors(release)
    why_not = ""
    try:
        check_can_review(release, user, authors)
    except TrustError as exc:
        why_not = exc.message
    try:
        project = trust.access.project(release.project)
    except TrustError:
        project = {"id": release.project}
    trust.airlock.viewed(user, release, where="checker_pages")
    return _page(
        "request.html",
        status,
        title=f"Release request {release.id}",
        user=user,
        csrf=csrf,
        release=release,
        outputs=outputs,
        project=project,
        can_review=not why_not,
        why_not=why_not,
        notice=notice,
        error=error,
        form=form or {},
    )


def _set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
