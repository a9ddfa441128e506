"""What moves tasks on without a request: every tick, each open task's due step runs on a small pool of threads.

A task whose lock is held (a page handler is talking to Access for it) is skipped until the next tick, and a task is
never scheduled twice at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from finapi_sandbox.webform.state import Task

TICK_SECONDS = 0.05


class Ticker:
    def __init__(self, open_tasks: Callable[[], list[Task]], advance: Callable[[Task], None]) -> None:
        self._open_tasks = open_tasks
        self._advance = advance
        self._lock = threading.Lock()
        self._scheduled: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webform-task")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._tick_forever, name="webform-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _tick_forever(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            open_tasks = self._open_tasks()
            with self._lock:
                due = [t for t in open_tasks if t.id not in self._scheduled]
                self._scheduled.update(t.id for t in due)
            for task in due:
                self._executor.submit(self._advance_scheduled, task)

    def _advance_scheduled(self, task: Task) -> None:
        try:
            if task.lock.acquire(blocking=False):
                try:
                    self._advance(task)
                finally:
                    task.lock.release()
        finally:
            with self._lock:
                self._scheduled.discard(task.id)
