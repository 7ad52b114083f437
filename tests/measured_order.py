"""What tests/durations.json says: which tests are slow, and the order in which pytest-xdist
hands out test files (the longest first).

Slow: a test that took SLOW_SECONDS, or that needs a module or session fixture that took that long
to build: that cost lands on whichever of the fixture's users runs first, so `-m "not slow"` would
otherwise pay it in a "fast" test.

Order:
`make test` runs `--dist loadfile` (a file stays on one worker, so its module fixtures are built
once). xdist hands the files out in collection order, so a long file collected late (the
benchmark scripts' tests, say) starts when the other worker has little left and runs alone: the
suite's wall time is then that file's tail. Handing them out longest-first (tests/durations.json,
the slow marker's source) is the classic greedy rule for parallel machines (LPT), and keeps both
workers busy to the end.
"""

from __future__ import annotations

import json
from pathlib import Path

from xdist.scheduler import LoadFileScheduling

SLOW_SECONDS = 1.0


def read_measured(path: Path) -> dict[str, dict[str, float]]:
    """{"tests": nodeid -> seconds, "fixtures": name -> build seconds} (a flat file: tests only)."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    return data if "tests" in data else {"tests": data, "fixtures": {}}


def is_slow(nodeid: str, fixturenames, measured: dict[str, dict[str, float]]) -> bool:
    if measured["tests"].get(nodeid, 0.0) >= SLOW_SECONDS:
        return True
    return any(measured["fixtures"].get(name, 0.0) >= SLOW_SECONDS for name in fixturenames)


class LongestFileFirst(LoadFileScheduling):
    """LoadFileScheduling whose queue is sorted by each file's measured seconds, longest first;
    a file not measured yet counts as one second per test."""

    def __init__(self, config, log=None, seconds: dict[str, float] | None = None):
        super().__init__(config, log)
        self._measured = seconds or {}
        self._ordered = False

    def _file_seconds(self, scope: str) -> float:
        return sum(self._measured.get(nodeid, 1.0) for nodeid in self.workqueue[scope])

    def _assign_work_unit(self, node) -> None:
        if not self._ordered:               # the first hand-out: the queue is complete now
            for scope in sorted(self.workqueue, key=self._file_seconds, reverse=True):
                self.workqueue.move_to_end(scope)
            self._ordered = True
        super()._assign_work_unit(node)
