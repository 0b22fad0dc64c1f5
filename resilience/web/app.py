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
from resilience.web.sessions import Book, FrontierRun, Run, Session, Sessions

COOKIE = "resilience_session"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
FRONTIER_POINTS = (2, 51, 11)  # least, most, default points per sweep
STATIC = Path(__file__).parent / "static"
HEADLINE = (  # key, label, how shown
    ("first_stage_cost", "Spend (first stage)", "money"),
    ("objective", "Objective", "money"),
    ("cvar", "CVaR", "money"),
    ("expected_shortage_cost", "Expected shortage cost", "money"),
    ("largest_hhi", "Largest HHI", "hhi"),
    ("mip_gap", "Gap", "gap"),
)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON = "application/json"


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


def progress_shown(progress: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's last progress report as the page shows it: a solve's best objective,
    bound, gap and seconds (the solver's `SolveProgress`), or a frontier's points done."""
    if not progress:
        return None
    if "total" in progress:
        return {"done": progress["done"], "total": progress["total"],
                "now": progress.get("now") or ""}
    gap = progress.get("gap")
    return {"objective": money(progress.get("objective")),
            "bound": money(progress.get("bound")),
            "gap": "—" if gap is None else f"{gap * 100:.2f} %",
            "seconds": f"{progress.get('seconds') or 0:.0f} s"}


def job_status(job) -> dict[str, Any]:
    return {"state": job.state, "stage": job.stage, "seconds": round(job.seconds, 1),
            "progress": progress_shown(job.progress)}


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
            frontiers=session.frontiers, frontier_points=FRONTIER_POINTS,
            max_upload_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
            is_default=book is holder["sessions"].default_book), session)

    async def book_status(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return JSONResponse({"state": "ended"})
        books = [b for b in (session.book, session.rejected) if b is not None]
        busy = any(b.inspection.active for b in books)
        return JSONResponse({"state": "busy" if busy else "ready",
                             "runs": [r.job.state for r in session.runs],
                             "frontiers": [f.job.state for f in session.frontiers]})

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

    async def case_form(request: Request):
        """The session, its workbook's options and the case asked for: the strategies
        (only the workbook's own names; none = base), the what-if, risk aversion, time
        limit and frontier points, each checked and clamped."""
        session = session_of(request)
        if session is None:
            return None
        known = options(session.book)
        if known is None:
            return None
        form = await request.form(max_files=0, max_fields=200)
        wanted = [s for s in form.getlist("strategy") if isinstance(s, str)]
        # "" is base (no strategy): picked beside others it is a run of its own
        strategies = list(dict.fromkeys(s or None for s in wanted
                                        if not s or s in known["strategies"])) or [None]
        whatif = form.get("whatif")
        whatif = whatif if whatif in known["whatifs"] else None
        risk = _number(form.get("risk_aversion"), 0.0, 1.0)
        limit = _number(form.get("time_limit"), 0.1, 86400.0)
        low, high, default = FRONTIER_POINTS
        points = _number(form.get("points"), low, high)
        return session, strategies, whatif, risk, limit, int(points or default)

    def start_solve(session: Session, strategy, whatif, risk, limit) -> Run:
        book = session.book
        number = len(session.runs) + 1
        job = runner.submit(worker.solve_run, str(book.path), str(session.folder),
                            number, strategy, whatif, risk, limit)
        run = Run(number, book, strategy, whatif, risk, limit, job)
        session.runs.append(run)
        return run

    def start_frontier(session: Session, book: Book, strategy, whatif, risk, limit,
                       points: int) -> FrontierRun:
        number = len(session.frontiers) + 1
        job = runner.submit(worker.frontier_run, str(book.path), str(session.folder),
                            number, strategy, whatif, risk, limit, points)
        run = FrontierRun(number, book, strategy, whatif, risk, limit, job, points)
        session.frontiers.append(run)
        return run

    async def solve(request: Request) -> Response:
        asked = await case_form(request)
        if asked is None:
            return back()
        session, strategies, whatif, risk, limit, _ = asked
        runs = [start_solve(session, s, whatif, risk, limit) for s in strategies]
        return back(f"/runs/{runs[0].number}" if len(runs) == 1 else "/")

    async def start_frontiers(request: Request) -> Response:
        asked = await case_form(request)
        if asked is None:
            return back()
        session, strategies, whatif, risk, limit, points = asked
        started = [start_frontier(session, session.book, s, whatif, risk, limit, points)
                   for s in strategies]
        return back(f"/frontiers/{started[0].number}" if len(started) == 1 else "/")

    async def frontier_of_run(request: Request) -> Response:
        """The frontier of a run's case: its workbook, strategy, what-if and settings."""
        session, run = run_of(request)
        if run is None:
            return back()
        form = await request.form(max_files=0, max_fields=5)
        low, high, default = FRONTIER_POINTS
        points = int(_number(form.get("points"), low, high) or default)
        started = start_frontier(session, run.book, run.strategy, run.whatif,
                                 run.risk_aversion, run.time_limit, points)
        return back(f"/frontiers/{started.number}")

    def job_of(request: Request, find) -> tuple[Session | None, Any]:
        """The session and its run or frontier the URL's number names (None if none)."""
        session = session_of(request)
        if session is None:
            return None, None
        try:
            number = int(request.path_params["number"])
        except ValueError:
            return session, None
        return session, find(session, number)

    def run_of(request: Request) -> tuple[Session | None, Run | None]:
        return job_of(request, Session.run)

    def frontier_of(request: Request) -> tuple[Session | None, FrontierRun | None]:
        return job_of(request, Session.frontier)

    def status_of(find):
        async def handler(request: Request) -> Response:
            _, job = find(request)
            if job is None:
                return JSONResponse({"state": "unknown"}, status_code=404)
            return JSONResponse(job_status(job.job))
        return handler

    def cancel_of(find, pages: str):
        async def handler(request: Request) -> Response:
            _, job = find(request)
            if job is None:
                return back()
            job.job.cancel()
            return back(f"/{pages}/{job.number}")
        return handler

    def download_of(find, stem: str, suffix: str, media: str):
        """A run's or a frontier's report or JSON, named after its case, once done."""
        async def handler(request: Request) -> Response:
            session, job = find(request)
            if job is None or job.figures is None:
                return HTMLResponse("<p>No such report.</p>", status_code=404)
            path = session.folder / f"{stem}-{job.number}.{suffix}"
            name = f"{stem}-{job.number}-{job.strategy or 'base'}-{job.whatif or 'base'}"
            return FileResponse(path, media_type=media, filename=f"{name}.{suffix}")
        return handler

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
                    outcome=run.job.outcome, progress=progress_shown(run.job.progress),
                    frontier_points=FRONTIER_POINTS)

    async def compare(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return back()
        picked = [session.run(int(n)) for n in request.query_params.getlist("run")
                  if n.isdigit()]
        runs = list({r.number: r for r in picked if r is not None and r.figures}.values())
        if len(runs) < 2:
            return page("compare.html", runs=runs, rows=None)
        base_number = request.query_params.get("base", "")
        base = next((r for r in runs if str(r.number) == base_number), runs[0])
        columns = [headline(run.figures, None if run is base else base.figures)
                   for run in runs]
        rows = [{"label": label, "cells": [column[i] for column in columns]}
                for i, (_, label, _) in enumerate(HEADLINE)]
        charts = {"base": base.number, "currency": base.figures["summary"]["units"][
            "currency"], "runs": [_compared(run, base) for run in runs]}
        return page("compare.html", runs=runs, rows=rows, base=base, charts=charts)

    async def frontier_page(request: Request) -> Response:
        _, run = frontier_of(request)
        if run is None:
            return HTMLResponse("<p>No such frontier in this session.</p><p><a href='/'>"
                                "Back</a></p>", status_code=404)
        data = run.data
        known = options(run.book) or {}
        return page("frontier.html", run=run, data=data, currency=known.get("currency", ""),
                    rows=_frontier_rows(data) if data else None, outcome=run.job.outcome,
                    progress=progress_shown(run.job.progress))

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
        Route("/runs/{number}/status", status_of(run_of)),
        Route("/runs/{number}/cancel", cancel_of(run_of, "runs"), methods=["POST"]),
        Route("/runs/{number}/report.xlsx", download_of(run_of, "run", "xlsx", XLSX)),
        Route("/runs/{number}/run.json", download_of(run_of, "run", "json", JSON)),
        Route("/runs/{number}/frontier", frontier_of_run, methods=["POST"]),
        Route("/frontier", start_frontiers, methods=["POST"]),
        Route("/frontiers/{number}", frontier_page),
        Route("/frontiers/{number}/status", status_of(frontier_of)),
        Route("/frontiers/{number}/cancel", cancel_of(frontier_of, "frontiers"),
              methods=["POST"]),
        Route("/frontiers/{number}/report.xlsx",
              download_of(frontier_of, "frontier", "xlsx", XLSX)),
        Route("/frontiers/{number}/frontier.json",
              download_of(frontier_of, "frontier", "json", JSON)),
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


def _compared(run: Run, base: Run) -> dict[str, Any]:
    """What the compare charts draw of a run: its figures (case figures: objective,
    spend, CVaR, shortage cost, largest HHI, shares by country group) and its Δ against
    the baseline run's, by the same noise rule as the table."""
    from resilience.report.analyses import _difference

    figures = run.figures
    keys = [key for key, _, how in HEADLINE if how != "gap"]
    delta = None
    if run is not base:
        delta = {key: _difference(figures[key], base.figures[key])
                 if figures.get(key) is not None and base.figures.get(key) is not None
                 else None for key in keys}
    return {"number": run.number, "name": run.name,
            "figures": {key: figures.get(key) for key in keys},
            "group_share": figures.get("group_share") or {},
            "group_spend_share": figures.get("group_spend_share") or {},
            "share_period": figures.get("share_period"),
            "delta": delta}


def _frontier_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The points of both sweeps, as the page's table lists them."""
    rows = []
    for sweep, label in (("hhi_sweep", "HHI limit"), ("risk_aversion_sweep", "λ")):
        for point in data[sweep]:
            rows.append({"sweep": label, **point})
    return rows
