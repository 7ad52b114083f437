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


def test_a_test_is_slow_by_its_own_seconds_or_by_a_costly_wider_fixture():
    from measured_order import is_slow

    measured = {"tests": {"a.py::slow": 2.0, "a.py::quick": 0.1, "a.py::needs_runs": 0.2},
                "fixtures": {"tiny_runs": 8.0, "template": 0.3}}
    assert is_slow("a.py::slow", [], measured)
    assert not is_slow("a.py::quick", ["template", "tmp_path"], measured)
    assert is_slow("a.py::needs_runs", ["tiny_runs"], measured)      # the first user pays the 8 s
    assert not is_slow("b.py::new", [], measured)                     # not measured yet: fast


def test_the_flat_file_of_older_checkouts_still_reads(tmp_path):
    from measured_order import read_measured

    flat = tmp_path / "durations.json"
    flat.write_text('{"a.py::t": 1.5}')
    assert read_measured(flat) == {"tests": {"a.py::t": 1.5}, "fixtures": {}}
    assert read_measured(tmp_path / "missing.json") == {"tests": {}, "fixtures": {}}
