"""The Starlette app: server-rendered pages, one session per browser (a random id in
an HttpOnly, SameSite=Strict cookie), every workbook read and solve in a worker
process (`jobs.Runner`). Nothing the browser sends becomes a path: uploads are saved
under names the server picks inside the session's own folder, and runs and reports
are looked up by their number in the session."""

from __future__ import annotations

import contextlib
import importlib.util
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from resilience.web import worker
from resilience.web.jobs import Runner
from resilience.web.sessions import Book, Run, Session, Sessions

COOKIE = "resilience_session"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
STATIC = Path(__file__).parent / "static"
HEADLINE = (  # key, label, how shown
    ("first_stage_cost", "Spend (first stage)", "money"),
    ("objective", "Objective", "money"),
    ("cvar", "CVaR", "money"),
    ("expected_shortage_cost", "Expected shortage cost", "money"),
    ("largest_hhi", "Largest HHI", "hhi"),
    ("mip_gap", "Gap", "gap"),
)


def plotly_js() -> Path:
    """Plotly.js as the plotly wheel ships it: served by the app, no CDN."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the web extra is not installed: pip install 'resilience[web]'")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    for scale, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if size >= scale:
            return f"{value / scale:,.2f}{suffix}"
    return f"{value:,.0f}"


def shown(value: float | None, how: str, signed: bool = False) -> str:
    if value is None:
        return "—"
    sign = ("+" if value > 0 else "−" if value < 0 else "") if signed else ""
    magnitude = abs(value) if signed else value
    if how == "money":
        return sign + money(magnitude)
    if how == "hhi":
        return f"{sign}{magnitude:,.0f}"
    return f"{sign}{magnitude * 100:.2f} %"


def headline(figures: dict[str, Any], base: dict[str, Any] | None) -> list[dict[str, str]]:
    """The headline figures of a run, with Δ against the baseline run's (the same noise
    rule as `compare`'s Δ against base)."""
    from resilience.report.analyses import _difference

    rows = []
    for key, label, how in HEADLINE:
        value = figures.get(key)
        delta = None
        if base is not None and value is not None and base.get(key) is not None:
            delta = _difference(value, base[key])
        rows.append({"key": key, "label": label, "value": shown(value, how),
                     "delta": shown(delta, how, signed=True) if base is not None else ""})
    return rows


def create_app(default_path: Path, default_label: str, *, slots: int = 2,
               allowed_hosts: list[str] | None = None) -> Starlette:
    """The app; `allowed_hosts`: the Host headers it answers (bound to 127.0.0.1, only
    local names, so that a web page cannot reach it by DNS rebinding)."""
    runner = Runner(slots)
    templates = Environment(loader=PackageLoader("resilience.web", "templates"),
                            autoescape=select_autoescape(["html"]))
    templates.globals.update(money=money, shown=shown)
    holder: dict[str, Sessions] = {}

    def inspect(path: Path, label: str, then=None) -> Book:
        """Read `path` in a worker; `then(book)` once it is read (or found invalid)."""
        book = Book(path, label, None)  # type: ignore[arg-type]
        book.inspection = runner.submit(
            worker.inspect_workbook, str(path), warm=False,
            on_finish=(lambda job: then(book)) if then else None)
        return book

    @contextlib.asynccontextmanager
    async def lifespan(app):
        holder["sessions"] = Sessions(inspect(default_path, default_label))
        yield
        holder["sessions"].close_all()
        runner.close()

    def page(name: str, **values) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values))

    def session_of(request: Request) -> Session | None:
        return holder["sessions"].get(request.cookies.get(COOKIE))

    def with_cookie(response: Response, session: Session) -> Response:
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict")
        return response

    def back(url: str = "/") -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    def options(book: Book) -> dict[str, Any] | None:
        outcome = book.inspection.outcome
        return outcome[1] if book.inspection.state == "done" and outcome else None

    def problems(book: Book | None) -> list[dict[str, Any]] | None:
        if book is None:
            return None
        outcome = book.inspection.outcome
        if book.inspection.state == "failed" and outcome:
            if outcome[0] == "problems":
                return outcome[1]
            return [{"sheet": "", "cell": "", "message": str(outcome[1]), "found": ""}]
        return None

    async def index(request: Request) -> Response:
        session = session_of(request) or holder["sessions"].create()
        book = session.book
        return with_cookie(page(
            "index.html", book=book, options=options(book),
            book_problems=problems(book), rejected=session.rejected,
            rejected_problems=problems(session.rejected), runs=session.runs,
            max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
            is_default=book is holder["sessions"].default_book), session)

    async def book_status(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return JSONResponse({"state": "ended"})
        books = [b for b in (session.book, session.rejected) if b is not None]
        busy = any(b.inspection.active for b in books)
        return JSONResponse({"state": "busy" if busy else "ready",
                             "runs": [r.job.state for r in session.runs]})

    async def upload(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return back()
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_UPLOAD_BYTES + 65536:
            return HTMLResponse(
                f"<p>The workbook is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.</p>"
                "<p><a href='/'>Back</a></p>", status_code=413)
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("workbook")
            if upload is None or isinstance(upload, str):
                return back()
            label = Path(upload.filename or "workbook.xlsx").name[:120]
            session.uploads += 1
            target = session.folder / f"upload-{session.uploads}.xlsx"
            size = 0
            with target.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        break
                    out.write(chunk)
        if size > MAX_UPLOAD_BYTES:
            target.unlink(missing_ok=True)
            return HTMLResponse("<p>The workbook is too large.</p><p><a href='/'>Back</a></p>",
                                status_code=413)
        session.rejected = inspect(target, label, lambda book: _settle(session, book))
        # `rejected` until its inspection says it is valid
        return back()

    def _settle(session: Session, book: Book) -> None:
        """An upload that reads cleanly becomes the session's workbook; an invalid one
        stays `rejected`, its problems shown, the previous workbook kept."""
        if book.inspection.state == "done" and session.rejected is book:
            session.book, session.rejected = book, None

    async def use_default(request: Request) -> Response:
        session = session_of(request)
        if session is not None:
            session.book, session.rejected = holder["sessions"].default_book, None
        return back()

    async def solve(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return back()
        book = session.book
        known = options(book)
        if known is None:
            return back()
        form = await request.form(max_files=0, max_fields=200)
        wanted = [s for s in form.getlist("strategy") if isinstance(s, str)]
        strategies = [s for s in wanted if s in known["strategies"]] or [None]
        whatif = form.get("whatif")
        whatif = whatif if whatif in known["whatifs"] else None
        risk = _number(form.get("risk_aversion"), 0.0, 1.0)
        limit = _number(form.get("time_limit"), 0.1, 86400.0)
        first = None
        for strategy in strategies:
            number = len(session.runs) + 1
            job = runner.submit(worker.solve_run, str(book.path), str(session.folder),
                                number, strategy, whatif, risk, limit)
            session.runs.append(Run(number, book, strategy, whatif, risk, limit, job))
            first = first or number
        return back(f"/runs/{first}" if len(strategies) == 1 else "/")

    def run_of(request: Request) -> tuple[Session | None, Run | None]:
        session = session_of(request)
        if session is None:
            return None, None
        try:
            number = int(request.path_params["number"])
        except ValueError:
            return session, None
        return session, session.run(number)

    async def run_page(request: Request) -> Response:
        session, run = run_of(request)
        if run is None:
            return HTMLResponse("<p>No such run in this session.</p><p><a href='/'>Back</a>"
                                "</p>", status_code=404)
        done = [r for r in session.runs if r.figures and r is not run]
        base_number = request.query_params.get("base", "")
        base = next((r for r in done if str(r.number) == base_number), None)
        figures = run.figures
        return page("run.html", run=run, figures=figures, done_runs=done, base=base,
                    headline=headline(figures, base.figures if base else None)
                    if figures else None, plan=_plan(figures) if figures else None,
                    outcome=run.job.outcome)

    async def run_status(request: Request) -> Response:
        _, run = run_of(request)
        if run is None:
            return JSONResponse({"state": "unknown"}, status_code=404)
        return JSONResponse({"state": run.job.state, "stage": run.job.stage,
                             "seconds": round(run.job.seconds, 1)})

    async def cancel(request: Request) -> Response:
        _, run = run_of(request)
        if run is None:
            return back()
        run.job.cancel()
        return back(f"/runs/{run.number}")

    def download(suffix: str, media: str):
        async def handler(request: Request) -> Response:
            session, run = run_of(request)
            if run is None or run.figures is None:
                return HTMLResponse("<p>No such report.</p>", status_code=404)
            path = session.folder / f"run-{run.number}.{suffix}"
            name = f"run-{run.number}-{run.strategy or 'base'}-{run.whatif or 'base'}"
            return FileResponse(path, media_type=media, filename=f"{name}.{suffix}")
        return handler

    async def compare(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return back()
        picked = [session.run(int(n)) for n in request.query_params.getlist("run")
                  if n.isdigit()]
        runs = [r for r in picked if r is not None and r.figures]
        if len(runs) < 2:
            return page("compare.html", runs=runs, rows=None)
        base = runs[0].figures
        columns = [headline(run.figures, None if run is runs[0] else base) for run in runs]
        rows = [{"label": label, "cells": [column[i] for column in columns]}
                for i, (_, label, _) in enumerate(HEADLINE)]
        return page("compare.html", runs=runs, rows=rows)

    async def end(request: Request) -> Response:
        session = session_of(request)
        if session is not None:
            holder["sessions"].end(session.id)
        response = page("ended.html")
        response.delete_cookie(COOKIE)
        return response

    async def plotly(request: Request) -> Response:
        return FileResponse(plotly_js(), media_type="text/javascript")

    routes = [
        Route("/", index),
        Route("/book/status", book_status),
        Route("/upload", upload, methods=["POST"]),
        Route("/use-default", use_default, methods=["POST"]),
        Route("/solve", solve, methods=["POST"]),
        Route("/runs/{number}", run_page),
        Route("/runs/{number}/status", run_status),
        Route("/runs/{number}/cancel", cancel, methods=["POST"]),
        Route("/runs/{number}/report.xlsx", download(
            "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
        Route("/runs/{number}/run.json", download("json", "application/json")),
        Route("/compare", compare),
        Route("/session/end", end, methods=["POST"]),
        Route("/static/plotly.min.js", plotly),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
                  ] if allowed_hosts else []
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


def _number(text: object, low: float, high: float) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return min(max(value, low), high) if math.isfinite(value) else None


def _plan(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return figures["summary"]["plan"]
