"""The operator console as a Starlette application (README "Operator console").

Routes: /login (form), /logout, / (the dashboard), /events (server-sent events: the sections that
changed), /solvers/{comp_id}/{disable|enable} and /margins (a confirmation page, then the action),
/metrics (Prometheus, no login), /healthz, /static. Everything but /login, /metrics, /healthz and
/static needs the operator's session cookie; every POST carries the session's CSRF token.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import anyio.to_thread
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ops.console.actions import ActionError, ActionResult, OperatorActions
from ops.console.auth import COOKIE, ConsoleSession, SessionStore, csrf_ok
from ops.console.feed import LiveFeed, SharedSnapshot
from ops.console.render import Renderer
from ops.console.snapshot import Snapshot

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
STREAM_POLL_S = 0.2  # how often an event stream looks at the feed's counter
KEEPALIVE_S = 15.0
MAX_FORM_BYTES = 16 * 1024
FAILED_LOGIN_DELAY_S = 0.5


@dataclass
class ConsoleDeps:
    snapshots: SharedSnapshot
    feed: LiveFeed
    actions: OperatorActions
    sessions: SessionStore
    metrics: Callable[[], bytes] | None = None  # the Prometheus exposition, if metrics run in this process
    secure_cookie: bool = False


class _Console:
    def __init__(self, deps: ConsoleDeps, renderer: Renderer) -> None:
        self.deps = deps
        self.renderer = renderer
        self.stopping = asyncio.Event()

    # -- helpers -------------------------------------------------------------------------------
    def session_of(self, request: Request) -> ConsoleSession | None:
        return self.deps.sessions.get(request.cookies.get(COOKIE))

    def html(self, template: str, request: Request, session: ConsoleSession | None, status_code: int = 200,
             **context: object) -> HTMLResponse:
        body = self.renderer.page(template, root=request.scope.get("root_path", ""),
                                  operator=session.operator if session else None,
                                  csrf=session.csrf if session else "", **context)
        return HTMLResponse(body, status_code=status_code, headers=_NO_STORE)

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return {}
        parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def to_login(self, request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)

    def home(self, request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", status_code=303)

    # -- login ---------------------------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        return self.html("login.html", request, None)

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        username, password = form.get("username", ""), form.get("password", "")
        if not self.deps.sessions.check(username, password):
            log.warning("console_login_refused", username=username[:64])
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # slows password guessing down
            return self.html("login.html", request, None, status_code=401, error="Wrong username or password.")
        token = self.deps.sessions.open(username)
        log.info("console_login", operator=username)
        response = self.home(request)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=self.deps.secure_cookie,
                            path="/")
        return response

    async def logout(self, request: Request) -> Response:
        session = self.session_of(request)
        form = await self.form(request)
        if session is not None and csrf_ok(session, form.get("csrf", "")):
            self.deps.sessions.close(request.cookies.get(COOKIE))
        response = self.to_login(request)
        response.delete_cookie(COOKIE, path="/")
        return response

    # -- the dashboard and its stream ----------------------------------------------------------
    async def dashboard(self, request: Request) -> Response:
        session = self.session_of(request)
        if session is None:
            return self.to_login(request)
        snapshot = await self.deps.snapshots.current()
        flash, flash_error = _take_flash(session)
        return self.html("dashboard.html", request, session, s=snapshot, flash=flash, flash_error=flash_error,
                         fragments=self.fragments(snapshot, request))

    def fragments(self, snapshot: Snapshot, request: Request) -> dict[str, str]:
        return self.renderer.fragments(snapshot, root=request.scope.get("root_path", ""))

    async def events(self, request: Request) -> Response:
        if self.session_of(request) is None:
            return Response("log in first", status_code=401)
        return StreamingResponse(self.stream(request), media_type="text/event-stream",
                                 headers={**_NO_STORE, "X-Accel-Buffering": "no"})

    async def stream(self, request: Request) -> AsyncIterator[str]:
        sent: dict[str, str] = {}
        last_write = 0.0
        last_snapshot: Snapshot | None = None
        loop = asyncio.get_running_loop()
        first = await self.deps.snapshots.current()
        if str(first.serial) == request.query_params.get("since"):
            # The page was rendered from this very snapshot: start from what it shows.
            last_snapshot, sent = first, self.fragments(first, request)
        yield "retry: 2000\n\n"
        while not self.stopping.is_set():
            if self.deps.sessions.get(request.cookies.get(COOKIE)) is None:
                return  # logged out (or expired) while watching
            snapshot = await self.deps.snapshots.current()
            changed = {}
            if snapshot is not last_snapshot:  # the same snapshot renders the same HTML
                last_snapshot = snapshot
                fragments = self.fragments(snapshot, request)
                changed = {name: html for name, html in fragments.items() if sent.get(name) != html}
            if changed:
                sent.update(changed)
                payload = json.dumps({"sections": changed, "at": snapshot.taken_at.strftime("%H:%M:%S"),
                                      "now": snapshot.taken_at.isoformat()})
                yield f"event: sections\ndata: {payload}\n\n"
                last_write = loop.time()
            elif loop.time() - last_write > KEEPALIVE_S:
                yield ": keepalive\n\n"
                last_write = loop.time()
            try:
                await asyncio.wait_for(self.stopping.wait(), STREAM_POLL_S)
            except TimeoutError:
                pass

    # -- actions, each behind a confirmation page -----------------------------------------------
    async def confirm_solver(self, request: Request) -> Response:
        session = self.session_of(request)
        if session is None:
            return self.to_login(request)
        comp_id, verb = request.path_params["comp_id"], request.path_params["verb"]
        try:
            _check_verb(verb)
            self.deps.actions.check_solver(comp_id)
        except ActionError as error:
            return self.html("confirm.html", request, session, status_code=404, question=str(error), action="",
                             fields={}, button="-", with_reason=False)
        root = request.scope.get("root_path", "")
        question = (f"Disable solver {comp_id}? It gets no new RFQs and its live quotes are pulled."
                    if verb == "disable" else f"Enable solver {comp_id}? It gets RFQs again.")
        return self.html("confirm.html", request, session, question=question, action=f"{root}/solvers/{comp_id}/{verb}",
                         fields={}, button=f"{verb.capitalize()} {comp_id}", with_reason=True)

    async def switch_solver(self, request: Request) -> Response:
        comp_id, verb = request.path_params["comp_id"], request.path_params["verb"]

        def switch(operator: str, form: dict[str, str]) -> ActionResult:
            _check_verb(verb)
            return self.deps.actions.switch_solver(comp_id, verb == "enable", operator, form.get("reason"))

        return await self.act(request, switch)

    async def confirm_margin(self, request: Request) -> Response:
        session = self.session_of(request)
        if session is None:
            return self.to_login(request)
        query = request.query_params
        fields = {name: query.get(name, "") for name in ("market_session", "margin_bps", "aggression_bps")}
        try:
            market_session, parameters = OperatorActions.parse_margin(**fields)
        except ActionError as error:
            session.flash = (str(error), True)
            return self.home(request)
        question = (f"Set the broker's {market_session} margin to {parameters.margin_bps} bps and aggression to "
                    f"{parameters.aggression_bps} bps?")
        return self.html("confirm.html", request, session, question=question,
                         action=f"{request.scope.get('root_path', '')}/margins", fields=fields, button="Set margins",
                         with_reason=False)

    async def set_margin(self, request: Request) -> Response:
        return await self.act(request, lambda operator, form: self.deps.actions.set_margin(
            form.get("market_session", ""), form.get("margin_bps", ""), form.get("aggression_bps", "0"), operator))

    async def act(self, request: Request, action: Callable[[str, dict[str, str]], ActionResult]) -> Response:
        session = self.session_of(request)
        if session is None:
            return self.to_login(request)
        form = await self.form(request)
        if not csrf_ok(session, form.get("csrf", "")):
            return Response("stale form: reload the console", status_code=403)
        try:
            result = await anyio.to_thread.run_sync(action, session.operator, form)
        except ActionError as error:
            session.flash = (str(error), True)
        else:
            log.info("console_action", operator=session.operator, command_id=result.command_id, result=result.message)
            session.flash = (result.message, False)
            self.deps.feed.touch()
        return self.home(request)

    # -- machine endpoints ---------------------------------------------------------------------
    async def metrics(self, request: Request) -> Response:
        if self.deps.metrics is None:
            return Response("metrics are not collected in this process", status_code=404)
        body = await anyio.to_thread.run_sync(self.deps.metrics)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(self, request: Request) -> Response:
        return Response("ok")


# Every page and the stream: never cached, never framed, only this origin's script, style and images.
_NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
             "Referrer-Policy": "no-referrer",
             "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                        "form-action 'self'; base-uri 'none'"}


def _check_verb(verb: str) -> None:
    if verb not in ("disable", "enable"):
        raise ActionError(f"unknown action {verb!r}: disable or enable")


def _take_flash(session: ConsoleSession) -> tuple[str | None, bool]:
    flash = session.flash
    session.flash = None
    return (flash[0], flash[1]) if flash else (None, False)


def create_console_app(deps: ConsoleDeps, renderer: Renderer | None = None) -> Starlette:
    console = _Console(deps, renderer or Renderer())
    routes = [
        Route("/", console.dashboard),
        Route("/login", console.login_page, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/events", console.events),
        Route("/solvers/{comp_id}/{verb:str}", console.confirm_solver, methods=["GET"]),
        Route("/solvers/{comp_id}/{verb:str}", console.switch_solver, methods=["POST"]),
        Route("/margins/confirm", console.confirm_margin, methods=["GET"]),
        Route("/margins", console.set_margin, methods=["POST"]),
        Route("/metrics", console.metrics),
        Route("/healthz", console.healthz),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app
