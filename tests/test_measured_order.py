"""make test's xdist hand-out (tests/measured_order.py): the longest files first."""

from types import SimpleNamespace

from measured_order import LongestFileFirst


class _Node:
    def __init__(self):
        self.sent = []

    def send_runtest_some(self, indexes):
        self.sent.append(indexes)


def test_files_are_handed_out_longest_first_by_measured_seconds():
    config = SimpleNamespace(getvalue=lambda name: {"tx": ["2*popen"]}.get(name), option=SimpleNamespace())
    seconds = {"a.py::t1": 0.1, "b.py::t1": 40.0, "c.py::t1": 3.0, "c.py::t2": 3.0}
    sched = LongestFileFirst(config, seconds=seconds)
    collection = ["a.py::t1", "b.py::t1", "c.py::t1", "c.py::t2", "d.py::t1"]     # d: not measured, 1 s
    for nodeid in collection:
        sched.workqueue.setdefault(sched._split_scope(nodeid), {})[nodeid] = False
    node = _Node()
    sched.registered_collections[node] = collection
    for _ in range(4):
        sched._assign_work_unit(node)
    assert list(sched.assigned_work[node]) == ["b.py", "c.py", "d.py", "a.py"]
    assert node.sent == [[1], [2, 3], [4], [0]]
