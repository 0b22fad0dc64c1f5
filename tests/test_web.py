"""`resilience serve` in a real browser: Debian's chromium driven by Playwright.

Two servers (the real command, in a subprocess): one on the embedded data set, one on a
workbook named on its command line; one browser for the module; each test opens its own
browser context, so its own session. Every context lets requests reach the app's own
host only (any other is blocked and recorded, and a test that saw one fails): the pages
work offline. Skipped, with the reason, only where the web extra or a chromium is not
installed (CI installs both: .ci/run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install '.[web]'")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed: pip install '.[web]'")
expect = sync_api.expect

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "web.png"


def _chromium() -> str | None:
    for candidate in (os.environ.get("RESILIENCE_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium found (apt-get install chromium; CI installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*arguments: str, cwd: Path = ROOT):
    """Start the real `resilience serve` on a free port; wait until the page answers."""
    port = _free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", "from resilience.cli import main; main()", "serve",
         "--port", str(port), *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd)
    url = f"http://127.0.0.1:{port}/"
    line = process.stdout.readline()
    assert url in line, line
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() - started < 10, "the server did not answer in 10 s"
            time.sleep(0.05)
    return process, url, time.monotonic() - started


@pytest.fixture(scope="module")
def server():
    process, url, ready = _serve()
    yield url, ready, process.pid
    process.terminate()
    process.wait(10)


BOOK_NAME = "northwind-sourcing.xlsx"


@pytest.fixture(scope="module")
def book_server(tmp_path_factory):
    """`resilience serve BOOK.xlsx`: a copy of data/example.xlsx under a name of its own,
    named (relative to the server's working folder) on the command line."""
    folder = tmp_path_factory.mktemp("named")
    shutil.copy(ROOT / "data" / "example.xlsx", folder / BOOK_NAME)
    process, url, _ = _serve(BOOK_NAME, cwd=folder)
    yield url, folder / BOOK_NAME, process.pid
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Offline:
    """Every request a browser context makes: those to the app's own host go through,
    any other is blocked (aborted) and recorded."""

    def __init__(self, url: str):
        self.host = urlsplit(url).netloc
        self.seen: list[str] = []
        self.blocked: list[str] = []

    def __call__(self, route) -> None:
        url = route.request.url
        self.seen.append(url)
        if urlsplit(url).netloc == self.host and url.startswith("http://"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")


def _session(browser, url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400,
                                                                   "height": 1000})
    context.set_default_timeout(30_000)
    offline = Offline(url)
    context.route("**/*", offline)
    page = context.new_page()
    page.goto(url)
    expect(page.get_by_role("button", name="Solve")).to_be_visible()
    return context, page, offline


@pytest.fixture
def page(browser, server):
    """A new browser session."""
    context, page, offline = _session(browser, server[0])
    yield page
    context.close()
    assert not offline.blocked, f"requests to other hosts: {offline.blocked}"


@pytest.fixture(scope="module")
def planner(browser, server):
    """One browser session kept over the tests that solve, so the compare test reuses
    the base run of the first (and solves it itself when run alone)."""
    context, page, offline = _session(browser, server[0])
    yield page
    context.close()
    assert not offline.blocked, f"requests to other hosts: {offline.blocked}"


@pytest.fixture
def book_page(browser, book_server):
    """A new browser session on the server started with a workbook named."""
    context, page, offline = _session(browser, book_server[0])
    yield page, offline
    context.close()
    assert not offline.blocked, f"requests to other hosts: {offline.blocked}"


def _solve(page, strategy: str | None = None) -> None:
    page.goto(page.url.split("/runs")[0].split("/compare")[0])
    if strategy:
        page.get_by_label("Strategies").select_option(strategy)
    page.get_by_role("button", name="Solve").click()
    expect(page.get_by_role("status", name="Run status")).to_have_text(
        re.compile(r"optimal|time_limit"), timeout=30_000)


def test_serve_binds_locally_and_is_up_fast(server):
    url, ready, _ = server
    assert url.startswith("http://127.0.0.1:")
    assert ready < 10, f"the page answered {ready:.1f} s after start"
    # a page elsewhere cannot reach it through a name of its own (DNS rebinding)
    request = urllib.request.Request(url, headers={"Host": "rebind.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400


def test_solve_the_embedded_data_and_download(planner, tmp_path):
    """Solve the embedded data set: status, headline figures, a chart, the plan; the
    report opens with openpyxl and the JSON is `solve --json`'s."""
    page = planner
    started = time.monotonic()
    _solve(page)
    # the target is 5 s on an idle machine (docs/web.md); CI shares its 2 cores
    assert time.monotonic() - started < 30
    figures = page.get_by_role("table", name="Headline figures")
    expect(figures).to_contain_text("Objective")
    expect(figures).to_contain_text("85.52 bn")  # README's demo figure
    expect(page.locator("#shares-chart .main-svg").first).to_be_visible()
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1)
    plan = page.get_by_role("table", name="Plan")
    rows = plan.locator("tbody tr")
    total = rows.count()
    assert total > 50
    page.get_by_label("Filter plan").fill("cobalt")
    expect(rows.locator("visible=true").first).to_contain_text("cobalt")
    assert rows.locator("visible=true").count() < total

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the Excel report").click()
    report = tmp_path / "report.xlsx"
    download.value.save_as(report)
    import openpyxl

    book = openpyxl.load_workbook(report, read_only=True)
    assert len(book.sheetnames) > 3
    book.close()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the JSON").click()
    target = tmp_path / "run.json"
    download.value.save_as(target)
    data = json.loads(target.read_text())
    assert data["status"] == "optimal"
    assert data["objective"] == pytest.approx(85_518_208_964, rel=1e-6)
    # multi-period data: shares over the periods and the projects built
    expect(page.locator("#periods-chart .main-svg").first).to_be_visible()
    expect(page.locator("#projects-chart .main-svg").first).to_be_visible()
    page.get_by_label("Material").select_option("cobalt")
    expect(page.locator("#periods-chart")).to_contain_text("cobalt")
    page.get_by_label("Filter plan").fill("")
    # RESILIENCE_WEB_SCREENSHOT=1 pytest tests/test_web.py refreshes docs/web.png
    shot = SCREENSHOT if os.environ.get("RESILIENCE_WEB_SCREENSHOT") else tmp_path / "web.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot))


def test_invalid_upload_lists_every_problem(page, tmp_path):
    """An invalid workbook: its problems as Sheet!Cell, message, found (the validator's);
    the embedded data stays in use. A file that is not an xlsx is refused by the
    container guard. A valid upload becomes the session's workbook."""
    import openpyxl

    book = openpyxl.load_workbook(ROOT / "data" / "example.xlsx")
    book["Materials"]["C2"] = -5
    broken = tmp_path / "broken.xlsx"
    book.save(broken)
    page.get_by_label(re.compile("Upload workbook")).set_input_files(str(broken))
    page.get_by_role("button", name="Upload and check").click()
    problems = page.get_by_role("table", name="Problems")
    expect(problems).to_contain_text("Materials!C2")
    expect(problems).to_contain_text("-5")
    expect(page.locator("#workbook-name")).to_contain_text("embedded data set")

    text = tmp_path / "notes.xlsx"
    text.write_text("material,demand\ncobalt,5\n")
    page.get_by_label(re.compile("Upload workbook")).set_input_files(str(text))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("table", name="Problems")).to_contain_text("not an .xlsx")

    page.get_by_label(re.compile("Upload workbook")).set_input_files(
        str(ROOT / "data" / "example.xlsx"))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#workbook-name")).to_have_text("example.xlsx")
    expect(page.get_by_role("table", name="Problems")).to_have_count(0)
    expect(page.get_by_role("button", name="Solve")).to_be_visible()


def test_compare_two_strategies(planner):
    """Two runs, base and eu_crma: Δ against the baseline on the run page and side by
    side on the compare page; a second browser session sees neither."""
    page = planner
    page.goto(page.url.split("/runs")[0])
    if page.get_by_role("table", name="Runs").count() == 0:
        _solve(page)
    _solve(page, "eu_crma")
    expect(page.get_by_role("heading", name=re.compile("eu_crma"))).to_be_visible()
    page.get_by_label("Baseline run").select_option(label="#1 base × base")
    figures = page.get_by_role("table", name="Headline figures")
    expect(figures).to_contain_text("Δ vs #1 base × base")
    expect(figures.locator("tr", has_text="Objective")).to_contain_text("+")

    page.get_by_role("link", name="resilience").click()
    runs = page.get_by_role("table", name="Runs")
    expect(runs.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Compare run 1").check()
    page.get_by_label("Compare run 2").check()
    page.get_by_role("button", name="Compare selected runs").click()
    table = page.get_by_role("table", name="Comparison")
    expect(table).to_contain_text("#2 eu_crma × base")
    expect(table).to_contain_text("Δ vs #1")
    expect(table.locator("tr", has_text="Objective")).to_contain_text("85.52 bn")
    # charts side by side: objective and spend from zero, Δ, shares by group, HHI
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1)
    for name in ("Objective and spend per run", "Δ against the baseline",
                 "Shares by country group", "Largest HHI per run"):
        chart = page.get_by_role("img", name=f"{name} chart")
        expect(chart.locator(".main-svg").first).to_be_visible()
    costs = page.get_by_role("img", name="Objective and spend per run chart")
    expect(costs).to_contain_text("#2 eu_crma × base")
    expect(costs).to_contain_text("spend (first stage)")
    expect(page.get_by_role("img", name="Δ against the baseline chart")).to_contain_text(
        "Δ against #1 base × base")
    groups = page.get_by_role("img", name="Shares by country group chart")
    expect(groups).to_contain_text("FEOC")
    expect(groups).to_contain_text("Share of spend by country group (origin, 2030)")
    # another baseline: the Δ columns and the Δ chart are against run 2
    page.get_by_label("Baseline run").select_option(label="#2 eu_crma × base")
    expect(table).to_contain_text("Δ vs #2")
    expect(table.locator("th", has_text="#2 eu_crma × base")).to_contain_text("(baseline)")
    expect(table.locator("tr", has_text="Objective")).to_contain_text("−")
    expect(page.get_by_role("img", name="Δ against the baseline chart")).to_contain_text(
        "Δ against #2 eu_crma × base")

    other = page.context.browser.new_context()
    stranger = other.new_page()
    answer = stranger.goto(page.url.split("/compare")[0] + "/runs/1")
    assert answer.status == 404
    other.close()


def _workers(server_pid: int) -> list[int]:
    """The server's worker processes (spawned interpreters)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server_pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _upload(page, path: Path) -> None:
    page.get_by_label(re.compile("Upload workbook")).set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#workbook-name")).to_have_text(path.name)
    expect(page.get_by_role("button", name="Solve")).to_be_visible()


def _cancel_and_check_worker_gone(page, server_pid: int, status_name: str) -> None:
    """Press Cancel: the job says cancelled, its worker process is gone (not replaced:
    the one process left is the spare that was already started ahead)."""
    before = set(_workers(server_pid))
    assert len(before) == 2, before  # the job's worker and the spare
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status", name=status_name)).to_have_text("cancelled")
    deadline = time.monotonic() + 5
    while len(_workers(server_pid)) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    after = set(_workers(server_pid))
    assert len(after) == 1 and after < before, (before, after)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_progress_and_cancel_a_long_solve(page, server, tmp_path):
    """A solve that is still running for certain (a hard workbook, gap 0, a 600 s time
    limit) shows the solver's best objective, bound and gap as they come; Cancel ends
    it as cancelled and its worker process is gone. The same for a frontier of that
    case (its first solve alone would take the 600 s). The page stays usable: the
    runs are listed as cancelled and the next solve works."""
    from builders import hard_sheets, write_workbook

    # 20 materials: after 30 s a gap of several per cent is still open (gap 0 asked)
    sheets = hard_sheets(20, unit="t")
    sheets["Settings"] = [["key", "value"], ["mip_gap", 0]]
    pid = int(server[2])
    _upload(page, write_workbook(tmp_path / "hard.xlsx", sheets))
    page.get_by_label("Time limit (s)").fill("600")
    page.get_by_role("button", name="Solve").click()
    progress = page.get_by_role("table", name="Solver progress")
    expect(progress.locator("#progress-gap")).to_have_text(re.compile(r"^\d+\.\d\d %$"),
                                                          timeout=30_000)
    expect(progress.locator("#progress-objective")).to_have_text(re.compile(r"\d"))
    expect(progress.locator("#progress-bound")).to_have_text(re.compile(r"\d"))
    expect(progress.locator("#progress-seconds")).to_have_text(re.compile(r"^\d+ s$"))
    expect(page.get_by_role("status", name="Run status")).to_contain_text("solving")
    _cancel_and_check_worker_gone(page, pid, "Run status")
    expect(page.get_by_role("link", name="Download the Excel report")).to_have_count(0)

    page.get_by_role("link", name="resilience").click()
    expect(page.get_by_role("table", name="Runs").locator("tbody tr")).to_contain_text(
        "cancelled")
    page.get_by_label("Time limit (s)").fill("600")
    page.get_by_label("Frontier points").fill("4")
    page.get_by_role("button", name="Run the frontier").click()
    expect(page.get_by_role("status", name="Frontier status")).to_contain_text(
        "solving the frontier's points")
    expect(page.locator("#frontier-progress")).to_contain_text("0 of 8 points")
    _cancel_and_check_worker_gone(page, pid, "Frontier status")

    page.get_by_role("link", name="resilience").click()
    expect(page.get_by_role("table", name="Frontiers")).to_contain_text("cancelled")
    page.get_by_label("Time limit (s)").fill("2")
    page.get_by_role("button", name="Solve").click()
    expect(page.get_by_role("status", name="Run status")).to_have_text(
        re.compile(r"time_limit, gap"), timeout=30_000)
    expect(page.get_by_role("table", name="Headline figures")).to_be_visible()


def test_a_workbook_named_on_the_command_line(book_page, book_server, tmp_path):
    """`resilience serve BOOK.xlsx`: the page shows that workbook's name, its
    strategies and the what-ifs that apply to it (as the library lists them); solving
    it works; the frontier of the run's case is solved in a worker and drawn (objective
    against largest HHI, objective and CVaR against λ, the knee marked), its points
    listed, its report and JSON downloaded."""
    from resilience.api import load
    from resilience.cases import applicable_whatifs, known_strategies

    page, _ = book_page
    expect(page.locator("#workbook-name")).to_have_text(BOOK_NAME)
    instance = load(book_server[1])
    strategies = page.get_by_label("Strategies").locator("option")
    expect(strategies).to_have_text(["base (no strategy)", *known_strategies(instance)])
    whatifs = page.get_by_label("What-if").locator("option")
    expect(whatifs).to_have_text(["base (none)", *applicable_whatifs(instance)[0]])
    assert whatifs.count() > 1 and strategies.count() > 1

    _solve(page)
    expect(page.get_by_text(f"Workbook {BOOK_NAME}")).to_be_visible()
    expect(page.get_by_role("status", name="Run status")).to_contain_text("optimal")
    expect(page.locator("#shares-chart .main-svg").first).to_be_visible()

    page.get_by_label("Frontier points").fill("5")
    page.get_by_role("button", name="Run the frontier of this case").click()
    expect(page.get_by_role("status", name="Frontier status")).to_contain_text(
        "done: 10 of 10 points", timeout=30_000)
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1)
    hhi = page.get_by_role("img", name="Objective against largest HHI chart")
    risk = page.get_by_role("img", name="Objective and CVaR against risk aversion chart")
    expect(hhi.locator(".main-svg").first).to_be_visible()
    expect(risk.locator(".main-svg").first).to_be_visible()
    expect(risk).to_contain_text("CVaR")
    points = page.get_by_role("table", name="Frontier points table").locator("tbody tr")
    expect(points).to_have_count(10)
    knees = points.filter(has_text="knee").count()
    assert knees >= 1
    expect(page.locator(".scatterlayer .trace .point")).not_to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the frontier's Excel report").click()
    report = tmp_path / "frontier.xlsx"
    download.value.save_as(report)
    import openpyxl

    book = openpyxl.load_workbook(report, read_only=True)
    assert "Frontier" in book.sheetnames
    book.close()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the frontier's JSON").click()
    target = tmp_path / "frontier.json"
    download.value.save_as(target)
    data = json.loads(target.read_text())
    assert data["input"]["file"] == BOOK_NAME
    assert len(data["hhi_sweep"]) == len(data["risk_aversion_sweep"]) == 5
    assert sum(p["knee"] for p in data["hhi_sweep"] + data["risk_aversion_sweep"]) == knees
    # the knee drawn as its own trace on the charts
    expect(page.locator(".legend .traces", has_text="knee")).not_to_have_count(0)


def _elsewhere(html: str) -> list[str]:
    """Every attribute of the HTML that points anywhere but a path on this host ("/…",
    not "//…") or a fragment."""
    from html.parser import HTMLParser

    found = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if name in ("src", "href", "action", "formaction", "srcset", "poster",
                            "data", "xlink:href") and value is not None and not (
                        value.startswith("#") or (value.startswith("/")
                                                  and not value.startswith("//"))):
                    found.append(f"<{tag} {name}={value!r}>")

    Links().feed(html)
    return found


def test_every_page_is_served_offline(book_page):
    """No page refers to anything outside the app (no CDN, no web font, no external
    link), and every request the browser makes goes to the app's own host: the start
    page, a run with its charts, the compare page with its charts, a frontier with its
    charts. Requests to other hosts are blocked by the context's route: none was."""
    page, offline = book_page
    page.get_by_label("Strategies").select_option(["", "friendshore"])
    page.get_by_role("button", name="Solve").click()
    runs = page.get_by_role("table", name="Runs")
    expect(runs.locator("tbody tr")).to_have_count(2)
    expect(runs.locator("tbody tr").filter(has_text="done")).to_have_count(2, timeout=30_000)
    page.get_by_role("link", name="#1 base × base").click()
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1)

    page.get_by_role("link", name="resilience").click()
    page.get_by_label("Compare run 1").check()
    page.get_by_label("Compare run 2").check()
    page.get_by_role("button", name="Compare selected runs").click()
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1)
    compare = page.url

    page.get_by_role("link", name="resilience").click()
    page.get_by_label("Frontier points").fill("3")
    page.get_by_role("button", name="Run the frontier").click()
    expect(page.locator("body[data-charts-ready=yes]")).to_have_count(1, timeout=30_000)

    # the pages as served (the session's cookie goes with page.request)
    root = f"http://{offline.host}"
    served = {path: page.request.get(root + path).text()
              for path in ("/", "/runs/1", "/runs/2", compare.removeprefix(root),
                           "/frontiers/1", "/static/app.css", "/static/app.js")}
    for path, text in served.items():
        assert "://" not in text, (path, re.findall(r"\S*://\S*", text)[:5])
        if not path.startswith("/static/"):
            assert not _elsewhere(text), (path, _elsewhere(text))
        assert "@import" not in text and "@font-face" not in text, path
    # every request the browser made: to the app's own host, Plotly.js included
    assert any(u.endswith("/static/plotly.min.js") for u in offline.seen)
    assert {urlsplit(u).netloc for u in offline.seen} == {offline.host}, offline.seen
    assert not offline.blocked


def test_end_session_deletes_its_folder(page, tmp_path):
    import tempfile

    folders = set(Path(tempfile.gettempdir()).glob("resilience-web-*"))
    assert folders
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    assert len(set(Path(tempfile.gettempdir()).glob("resilience-web-*"))) < len(folders)


def test_an_upload_over_the_cap_is_refused_unread(server):
    """The size cap is checked from the request's length before the body is read."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(server[0])
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    connection.request("GET", "/")
    answer = connection.getresponse()
    answer.read()
    cookie = answer.getheader("set-cookie").split(";")[0]
    connection.putrequest("POST", "/upload")
    connection.putheader("Cookie", cookie)
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(200 * 1024 * 1024))
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 413
    assert b"larger than 20 MB" in answer.read()
    connection.close()
