"""Worker processes: one per job, started from a thread of the server, at most
`slots` at a time, each cancellable by terminating its process.

A process per job (not a pool) so that Cancel stops a solve for certain: HiGHS does not
listen to Python while it solves, and a pool's worker cannot be stopped without losing
the pool. The spawn start method: a fresh interpreter, nothing inherited from the
server's threads.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class Job:
    """One worker task: its state as the page shows it (queued, running, done, failed,
    cancelled), the worker's last stage, its last progress report (a solve's best
    objective, bound and gap; a frontier's count of points), and what it sent back."""

    target: Callable[..., None]
    args: tuple
    on_finish: Callable[[Job], None] | None = None
    warm: bool = True
    state: str = "queued"
    stage: str = "waiting for a worker"
    progress: dict[str, Any] | None = None
    outcome: tuple | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _process: Any = None
    _cancelled: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(3)
            if process.is_alive():
                process.kill()
                process.join(3)


@dataclass
class _Spare:
    """A worker process started ahead, its engine imported, waiting for one task."""

    process: Any
    tasks: Any  # the server's end of the task pipe
    results: Any  # the server's end of the result pipe


class Runner:
    """Starts jobs in worker processes, at most `slots` at once; one spare process is
    kept started ahead so that a job does not wait for an interpreter to start."""

    def __init__(self, slots: int = 2, spare: bool = True):
        self._slots = threading.BoundedSemaphore(slots)
        self._keep_spare = spare
        self._spare: _Spare | None = None
        self._spare_lock = threading.Lock()
        if spare:
            self._spare = self._start_spare()

    @staticmethod
    def _start_spare(idle: bool = False) -> _Spare:
        """A worker waiting for its task; `idle`: without importing the engine first."""
        from resilience.web.worker import standby

        task_receive, task_send = _CONTEXT.Pipe(duplex=False)
        result_receive, result_send = _CONTEXT.Pipe(duplex=False)
        process = _CONTEXT.Process(target=standby, args=(task_receive, result_send, not idle),
                                   daemon=True)
        process.start()
        task_receive.close()
        result_send.close()
        return _Spare(process, task_send, result_receive)

    def _take_spare(self) -> _Spare:
        with self._spare_lock:
            spare = self._spare
            self._spare = self._start_spare() if self._keep_spare else None
        if spare is None or not spare.process.is_alive():
            spare = self._start_spare()
        return spare

    def close(self) -> None:
        with self._spare_lock:
            spare, self._spare, self._keep_spare = self._spare, None, False
        if spare is not None:
            spare.process.terminate()
            spare.process.join(3)

    def submit(self, target, *args, on_finish=None, warm: bool = True) -> Job:
        """Run `target(connection, *args)` in a worker: the spare when `warm` (a solve),
        else a fresh process (reading a workbook needs none of the engine's imports)."""
        job = Job(target, args, on_finish, warm=warm)
        threading.Thread(target=self._run, args=(job,), daemon=True,
                         name="resilience-web-job").start()
        return job

    def _run(self, job: Job) -> None:
        with self._slots:
            try:
                self._in_process(job)
            except Exception as exc:  # the process could not even start
                job.outcome = ("error", f"{type(exc).__name__}: {exc}")
            job.finished = time.monotonic()
            if job._cancelled:
                job.state, job.stage = "cancelled", "cancelled"
            elif job.outcome and job.outcome[0] == "done":
                job.state, job.stage = "done", "done"
            else:
                job.state, job.stage = "failed", "failed"
                if job.outcome is None:
                    job.outcome = ("error", "the worker process ended without an answer")
            if job.on_finish:
                job.on_finish(job)

    def _in_process(self, job: Job) -> None:
        with job._lock:
            if job._cancelled:
                return
            job.state, job.stage = "running", "starting a worker"
            spare = self._take_spare() if job.warm else self._start_spare(idle=True)
            job._process = process = spare.process
        receive = spare.results
        try:
            spare.tasks.send((job.target, job.args))
        except (BrokenPipeError, OSError):  # the spare died: the job fails, plainly
            pass
        finally:
            spare.tasks.close()
        try:
            while True:
                try:
                    message = receive.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "stage":
                    job.stage = message[1]
                elif message[0] == "progress":
                    job.progress = message[1]
                else:
                    job.outcome = message
        finally:
            receive.close()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
