"""The output checkers' pages: plain server-rendered HTML, no JavaScript, no build step.

    GET  /checker/login                 sign in with a bearer token, or through the organisation's provider
    POST /checker/login                 → an HttpOnly, SameSite=Strict session cookie
    GET  /checker/oidc/start            → the OpenID Connect provider (when ``oidc_issuer`` is set)
    GET  /checker/oidc/callback         the provider's answer → the same session cookie (trust/server/oidc.py)
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

import functools
import hmac
import logging
import secrets
import urllib.parse
from collections.abc import Callable
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
from trust.server.oidc import PENDING_SECONDS, OidcSignIn, SignInFailed
from trust.service import Trust, User
from trust.service.checkers import CHECKER_ROLE, SESSION_HOURS, CheckerSession

log = logging.getLogger("trust.server")
PREFIX = "/checker"
SESSION_COOKIE = "trust_checker"
LOGIN_COOKIE = "trust_checker_login"  # double-submit CSRF token for the sign-in form
OIDC_COOKIE = "trust_checker_oidc"  # a sign-in under way at the provider (SameSite=Lax: it comes back cross-site)
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
    context.setdefault("oidc", None)  # the provider's name on the sign-in page, when there is one
    context.setdefault("retry", False)  # an error page offers "start again" rather than "back to the queue"
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
    oidc = OidcSignIn.from_config(trust.config)

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
        response = _page(
            "login.html", title="Sign in", login_csrf=token, next=_safe_next(next), oidc=oidc and oidc.name
        )
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
                oidc=oidc and oidc.name,
            )
        response = _redirect(_safe_next(form.get("next")))
        assert session.secret is not None  # a session just opened carries its secret, once
        _set_cookie(request, response, SESSION_COOKIE, session.secret, max_age=int(SESSION_HOURS * 3600))
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    @app.get(PREFIX + "/oidc/start", include_in_schema=False)
    async def oidc_start(request: Request, next: str | None = None) -> Response:
        if oidc is None:
            return _page("error.html", 404, title="Not available", error=NO_OIDC)
        redirect_uri = _base_url(trust, request) + PREFIX + "/oidc/callback"
        try:
            url, pending = await oidc.begin(redirect_uri, _safe_next(next))
        except SignInFailed as exc:
            return _page("error.html", exc.status, title="Sign-in failed", error=exc.message, retry=True)
        except Exception as exc:  # noqa: BLE001 - a page, never a traceback
            return _sign_in_broke(exc)
        response = RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)
        _set_cookie(request, response, OIDC_COOKIE, pending, max_age=PENDING_SECONDS, samesite="lax")
        return response

    @app.get(PREFIX + "/oidc/callback", include_in_schema=False)
    async def oidc_callback(request: Request) -> Response:
        if oidc is None:
            return _page("error.html", 404, title="Not available", error=NO_OIDC)
        issuer = oidc.settings.issuer
        try:
            claims, target = await oidc.finish(request.cookies.get(OIDC_COOKIE), dict(request.query_params))
            name = await run_in_threadpool(
                trust.checkers.user_for_claims, claims, oidc.settings.user_claim, issuer=issuer
            )
            session = await run_in_threadpool(trust.checkers.open_for, name, method="oidc", issuer=issuer)
        except (SignInFailed, TrustError) as exc:
            if isinstance(exc, SignInFailed):
                log.warning("refused an OpenID Connect sign-in: %s", exc.reason)
            status = exc.status if isinstance(exc, SignInFailed) else exc.http_status
            response: Response = _page("error.html", status, title="Sign-in failed", error=exc.message, retry=True)
        except Exception as exc:  # noqa: BLE001 - a page, never a traceback
            response = _sign_in_broke(exc)
        else:
            assert session.secret is not None
            # A page rather than a redirect: the browser came here from the provider's site, and would not
            # send the SameSite=Strict session cookie along a redirect chain that began there.
            response = _page("continue.html", title="Signed in", target=target)
            _set_cookie(request, response, SESSION_COOKIE, session.secret, max_age=int(SESSION_HOURS * 3600))
        response.delete_cookie(OIDC_COOKIE, path=PREFIX, httponly=True, samesite="lax")
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
        if CHECKER_ROLE not in user.roles:  # a data owner: their department's applications
            return _redirect(PREFIX + "/applications")
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

    @app.get(PREFIX + "/applications", include_in_schema=False)
    def applications(request: Request) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        seen = trust.agreements.list(user.name)
        waiting = [a for a in seen if a.state == "submitted" and a.waiting_for.get(user.organisation)]
        return _page(
            "applications.html",
            title="Applications for data",
            user=user,
            csrf=session.csrf,
            waiting=waiting,
            others=[a for a in seen if a not in waiting][:50],
        )

    @app.get(PREFIX + "/applications/new", include_in_schema=False)
    def new_application(request: Request, based_on: str | None = None) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        try:
            draft = trust.agreements.get(user.name, based_on).application.to_json() if based_on else None
        except TrustError as exc:
            return _page(
                "error.html", exc.http_status, title="Not available", user=user, csrf=session.csrf, error=exc.message
            )
        return _apply_page(trust, user, session.csrf, draft or {}, based_on)

    @app.post(PREFIX + "/applications/new", include_in_schema=False)
    async def save_application(request: Request) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return to_login(request)
        user, session = found
        form = await _form_lists(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, _one(form, "csrf")):
            return await refuse_forgery(request, user.name, "application form token or origin mismatch")
        spec = views.application_from_form(form)
        existing = _one(form, "application_id") or None
        try:
            view = await run_in_threadpool(
                functools.partial(trust.agreements.draft, user.name, spec, application_id=existing)
            )
        except TrustError as exc:
            return await run_in_threadpool(
                functools.partial(
                    _apply_page, trust, user, session.csrf, spec, existing, error=exc.message, status=exc.http_status
                )
            )
        return _redirect(f"{PREFIX}/applications/{urllib.parse.quote(view.id)}")

    @app.post(PREFIX + "/applications/{application_id}/submit", include_in_schema=False)
    async def submit_application(request: Request, application_id: str) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return to_login(request)
        user, session = found
        form = await _form_lists(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, _one(form, "csrf")):
            return await refuse_forgery(request, user.name, "application submission token or origin mismatch")
        try:
            await run_in_threadpool(trust.agreements.submit, user.name, application_id)
        except TrustError as exc:
            return await _again(
                functools.partial(_application_page, trust, user, session.csrf, application_id), user, session.csrf, exc
            )
        return _redirect(f"{PREFIX}/applications/{urllib.parse.quote(application_id)}?done=1")

    @app.get(PREFIX + "/applications/{application_id}", include_in_schema=False)
    def application_page(request: Request, application_id: str, done: str | None = None) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        try:
            return _application_page(
                trust, user, session.csrf, application_id, notice="Your decision is recorded." if done else None
            )
        except TrustError as exc:
            return _page(
                "error.html", exc.http_status, title="Not available", user=user, csrf=session.csrf, error=exc.message
            )

    @app.post(PREFIX + "/applications/{application_id}/decide", include_in_schema=False)
    async def decide_application(request: Request, application_id: str) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return to_login(request)
        user, session = found
        form = await _form_lists(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, _one(form, "csrf")):
            return await refuse_forgery(request, user.name, "application decision form token or origin mismatch")
        try:
            view = await run_in_threadpool(trust.agreements.get, user.name, application_id)
            conditions = views.conditions_from_form(view, user.organisation, form)
            await run_in_threadpool(
                functools.partial(
                    trust.agreements.decide,
                    user.name,
                    application_id,
                    _one(form, "decision"),
                    conditions=conditions,
                    note=_one(form, "note"),
                )
            )
        except TrustError as exc:
            return await _again(
                functools.partial(_application_page, trust, user, session.csrf, application_id), user, session.csrf, exc
            )
        return _redirect(f"{PREFIX}/applications/{urllib.parse.quote(application_id)}?done=1")

    @app.get(PREFIX + "/requests/{request_id}", include_in_schema=False)
    def request_page(request: Request, request_id: str, done: str | None = None) -> Response:
        found = signed_in(request)
        if found is None:
            return to_login(request)
        user, session = found
        if CHECKER_ROLE not in user.roles:  # units, true values and reviews are for checkers only
            return _not_a_checker(user, session.csrf)
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
        if CHECKER_ROLE not in user.roles:  # units, true values and reviews are for checkers only
            return _not_a_checker(user, session.csrf)
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

    @app.post(PREFIX + "/requests/{request_id}/comments", include_in_schema=False)
    async def comment(request: Request, request_id: str) -> Response:
        found = await run_in_threadpool(signed_in, request)
        if found is None:
            return to_login(request)
        user, session = found
        if CHECKER_ROLE not in user.roles:  # units, true values and reviews are for checkers only
            return _not_a_checker(user, session.csrf)
        form = await _form(request)
        if not _same_origin(request) or not hmac.compare_digest(session.csrf, form.get("csrf", "")):
            return await refuse_forgery(request, user.name, "comment form token or origin mismatch")
        try:
            await run_in_threadpool(
                functools.partial(
                    trust.airlock.comment,
                    user.name,
                    request_id,
                    form.get("body", ""),
                    output=form.get("output") or None,
                    cell=form.get("cell") or None,
                    reply_to=form.get("reply_to") or None,
                    checkers_only=form.get("checkers_only") == "1",
                )
            )
        except TrustError as exc:
            return await _again(
                functools.partial(_request_page, trust, user, session.csrf, request_id), user, session.csrf, exc
            )
        return _redirect(f"{PREFIX}/requests/{urllib.parse.quote(request_id)}#comments")


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
    diff = None
    if release.round > 1:
        try:
            diff = trust.airlock.diff(user.name, request_id)
        except TrustError:  # an earlier round from before rounds were kept: nothing to compare
            diff = None
    comments = trust.airlock.comments(user.name, request_id)
    earlier = [
        r
        for r in trust.airlock.list(user.name, project=release.project, states=[ReleaseState.RELEASED])
        if r.id != release.id
    ]
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
        diff=diff,
        threads=views.threads(comments),
        earlier=earlier,
        cells={o.id: views.cell_choices(o) for o in outputs},
        replaces={o.output: o.replaces for o in release.outputs if o.replaces},
        notice=notice,
        error=error,
        form=form or {},
    )


async def _again(page: Callable[..., HTMLResponse], user: User, csrf: str, exc: TrustError) -> HTMLResponse:
    """The page again, with what went wrong on it; the plain error page when the page itself cannot be shown."""
    try:
        return await run_in_threadpool(functools.partial(page, error=exc.message, status=exc.http_status))
    except TrustError:
        return _page("error.html", exc.http_status, title="Not available", user=user, csrf=csrf, error=exc.message)


def _not_a_checker(user: User, csrf: str) -> HTMLResponse:
    return _page(
        "error.html",
        403,
        title="For output checkers",
        user=user,
        csrf=csrf,
        error="Release requests are reviewed by output checkers, and you are not one. Your part is the "
        "applications for data: /checker/applications.",
    )


def _application_page(
    trust: Trust,
    user: User,
    csrf: str,
    application_id: str,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    view = trust.agreements.get(user.name, application_id)
    catalog = trust.catalog.registrations()
    own = [d for d in view.application.datasets if catalog.get(d).department == user.organisation]
    decided = any(d.approver == user.name for d in view.decisions)
    can_decide = (
        "data_owner" in user.roles
        and view.state == "submitted"
        and user.organisation in view.departments
        and not decided
        and user.name != view.applicant
        and user.name not in view.application.members
    )
    return _page(
        "application.html",
        status,
        title=f"Application {view.id}",
        user=user,
        csrf=csrf,
        view=view,
        app=view.application,
        own=own,
        can_decide=can_decide,
        can_submit=view.state == "draft" and user.name == view.applicant and not view.assessment.blockers,
        can_edit=view.state == "draft" and user.name == view.applicant,
        notice=notice,
        error=error,
    )


def _apply_page(
    trust: Trust,
    user: User,
    csrf: str,
    spec: dict[str, Any],
    application_id: str | None,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    from trust.policy.applications import gateways, purposes

    policies = Path(trust.config.policies_dir)
    return _page(
        "apply.html",
        status,
        title="Apply for data",
        user=user,
        csrf=csrf,
        spec=spec,
        chosen=spec.get("datasets") or {},
        application_id=application_id or "",
        purposes=sorted(purposes(policies).values(), key=lambda p: p.name),
        gateways=sorted(gateways(policies).values(), key=lambda g: g.name),
        datasets=list(trust.catalog.registrations()),
        error=error,
    )


async def _form_lists(request: Request) -> dict[str, list[str]]:
    """The form's fields, each with every value sent (checkboxes send one per ticked box)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return urllib.parse.parse_qs(body, keep_blank_values=True)


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int, samesite: str = "strict"
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=request.url.scheme == "https",
    )


def _sign_in_broke(exc: BaseException) -> HTMLResponse:
    ref = secrets.token_hex(4)
    log.error("internal error %s in an OpenID Connect sign-in", ref, exc_info=exc)
    return _page(
        "error.html",
        500,
        title="Sign-in failed",
        error=f"The trust hit an internal error while signing you in; it has been logged (reference {ref}). "
        "Try again, or sign in with a token.",
        retry=True,
    )


NO_OIDC = "Signing in through an organisation's provider is not set up on this trust. Sign in with a token."


def _base_url(trust: Trust, request: Request) -> str:
    """Where browsers reach the trust: ``public_url`` when set (behind a proxy), else this request's own."""
    return str(trust.config.public_url or request.base_url).rstrip("/")
