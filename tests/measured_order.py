"""The order in which pytest-xdist hands out test files: the longest first, by measured seconds.

`make test` runs `--dist loadfile` (a file stays on one worker, so its module fixtures are built
once). xdist hands the files out in collection order, so a long file collected late (the
benchmark scripts' tests, say) starts when the other worker has little left and runs alone: the
suite's wall time is then that file's tail. Handing them out longest-first (tests/durations.json,
the slow marker's source) is the classic greedy rule for parallel machines (LPT), and keeps both
workers busy to the end.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling


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
