"""Helpers shared by the tests that drive the CLI in-process."""

from latentatlas import cli


def run_cli(capsys, *argv):
    """Run `latentatlas ARGV...` in this process; (exit code, stdout, stderr)."""
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    """A user error: exit 2, exactly one line on stderr, no traceback, naming each needle."""
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {err!r}"
    assert lines[0].startswith("latentatlas: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


def snapshot(*folders):
    """Every file under the folders with its size and mtime: to check that nothing was written."""
    out = {}
    for folder in folders:
        if folder.exists():
            for p in sorted(folder.rglob("*")):
                st = p.stat()
                out[str(p)] = (p.is_dir(), st.st_size, st.st_mtime_ns)
    return out
