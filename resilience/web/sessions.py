"""Browser sessions: each has its own temporary folder (uploads, reports, JSON), its
workbook and its runs; one session never sees another's. A session ends when the
planner presses End session, after `IDLE_SECONDS` without a request, or when the
server stops: its jobs are cancelled and its folder deleted."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resilience.web.jobs import Job

IDLE_SECONDS = 4 * 3600


@dataclass
class Book:
    """A workbook the session solves: a server-side path (the embedded data set, the one
    named on the command line, or an upload saved under a name the server chose), the
    name to show, and its inspection job (strategies, what-ifs, or its problems)."""

    path: Path
    label: str
    inspection: Job


@dataclass
class Run:
    number: int
    book: Book
    strategy: str | None
    whatif: str | None
    risk_aversion: float | None
    time_limit: float | None
    job: Job

    @property
    def name(self) -> str:
        return f"#{self.number} {self.strategy or 'base'} × {self.whatif or 'base'}"

    @property
    def figures(self) -> dict[str, Any] | None:
        outcome = self.job.outcome
        return outcome[1] if self.job.state == "done" and outcome else None


@dataclass
class FrontierRun(Run):
    """The cost-against-concentration frontier of one case (`frontier`), in a worker:
    a run whose figures are `frontier --json`."""

    points: int = 11

    @property
    def name(self) -> str:
        return (f"frontier {self.number}: {self.strategy or 'base'} × "
                f"{self.whatif or 'base'}, {self.points} points")

    @property
    def data(self) -> dict[str, Any] | None:
        """`frontier --json` once done."""
        return self.figures


@dataclass
class Session:
    id: str
    folder: Path
    book: Book
    rejected: Book | None = None  # the last upload, when it was invalid
    runs: list[Run] = field(default_factory=list)
    frontiers: list[FrontierRun] = field(default_factory=list)
    uploads: int = 0
    seen: float = field(default_factory=time.monotonic)

    def run(self, number: int) -> Run | None:
        return next((r for r in self.runs if r.number == number), None)

    def frontier(self, number: int) -> FrontierRun | None:
        return next((f for f in self.frontiers if f.number == number), None)

    def close(self) -> None:
        for run in (*self.runs, *self.frontiers):
            run.job.cancel()
        for book in (self.book, self.rejected):
            if book is not None:
                book.inspection.cancel()
        shutil.rmtree(self.folder, ignore_errors=True)


class Sessions:
    def __init__(self, default_book: Book):
        self.default_book = default_book
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        self.expire()
        with self._lock:
            session = self._sessions.get(session_id or "")
            if session is not None:
                session.seen = time.monotonic()
            return session

    def create(self) -> Session:
        session_id = secrets.token_urlsafe(24)
        folder = Path(tempfile.mkdtemp(prefix="resilience-web-"))
        session = Session(session_id, folder, self.default_book)
        with self._lock:
            self._sessions[session_id] = session
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()

    def expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            old = [s for s in self._sessions.values() if now - s.seen > IDLE_SECONDS]
            for s in old:
                del self._sessions[s.id]
        for s in old:
            s.close()

    def close_all(self) -> None:
        with self._lock:
            every = list(self._sessions.values())
            self._sessions.clear()
        for s in every:
            s.close()
