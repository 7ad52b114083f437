"""The command line: entry points, help texts, and that help never imports heavy libraries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from latentatlas import __version__, cli

# Libraries that make `latentatlas --help` slow; none may be imported to print help.
HEAVY = ["torch", "sklearn", "scipy", "numpy", "matplotlib", "umap", "openTSNE", "plotly",
         "PIL", "safetensors", "pandas", "numba"]

DATA_ACTIONS = ["list", "fetch", "verify", "info"]

_PROBE = """
import json, sys
from latentatlas import cli
argv = json.loads(sys.argv[1])
try:
    cli.main(argv)
except SystemExit:
    pass
heavy = json.loads(sys.argv[2])
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _heavy_imports_for(argv_list: list[list[str]]) -> dict[str, list[str]]:
    """argv -> heavy modules imported while printing that help, each in a fresh interpreter."""
    out = {}
    for argv in argv_list:
        proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out[" ".join(argv)] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_help_imports_no_heavy_library():
    argvs = [["--help"]] + [[c, "--help"] for c in cli.COMMANDS] + [["data", a, "--help"] for a in DATA_ACTIONS]
    found = _heavy_imports_for(argvs)
    offenders = {cmd: mods for cmd, mods in found.items() if mods}
    assert not offenders, f"help imported heavy libraries (move those imports into run()): {offenders}"


def test_every_command_has_help_and_lists_in_top_help(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    top = capsys.readouterr().out
    # The sub-command list: one indented line per command, its name first (the description
    # above it mentions some command names too, so a plain `name in top` would prove nothing).
    listed = [m.group(1) for m in re.finditer(r"^    (\S+)", top, re.MULTILINE)]
    assert listed == cli.COMMANDS
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exc:
            cli.main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: latentatlas " + name in capsys.readouterr().out


def test_data_help_states_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["data", "info", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.2)" in text and "(default: 0)" in text and "LATENTATLAS_DATA" in text


def test_version_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "latentatlas", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"latentatlas {__version__}"


def test_unknown_command_is_argparse_error_exit_2():
    proc = subprocess.run([sys.executable, "-m", "latentatlas", "no-such-command"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_user_error_is_one_line_in_a_real_process(tmp_path):
    """The console script path: one line on stderr, exit 2, nothing on stdout."""
    env = {**os.environ, "LATENTATLAS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "latentatlas", "data", "info", "mnist-sample", "--classes", "7"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("latentatlas: error: ")
    assert "at least two classes" in proc.stderr
    assert not (tmp_path / "cache").exists()


def test_data_without_action_prints_help(capsys):
    assert cli.main(["data"]) == 0
    assert "list" in capsys.readouterr().out


# -- --device wherever work runs: one option, resolved by runtime.choose_device ---------------

DEVICE_COMMANDS = [["encode"], ["explore"], ["sample"], ["judge"], ["interpolate"], ["export", "--tensorboard", "{tmp}/tb"]]


@pytest.mark.parametrize("command", DEVICE_COMMANDS, ids=lambda c: c[0])
def test_device_option_reaches_the_one_device_rule(tiny_runs, tmp_path, capsys, command):
    """Every command that runs a network takes --device; a device this machine lacks is one line
    from runtime.choose_device (before any work), and nothing is written into the run."""
    import shutil

    from cli_helpers import assert_one_line_error, run_cli, snapshot

    run = tmp_path / "run"
    shutil.copytree(tiny_runs["ae"], run)
    (run / "latents.npz").unlink(missing_ok=True)           # export and encode must encode: the device is asked
    def files():                  # paths and file contents' stamps (the lock comes and goes in the run)
        return {p: stamp if not stamp[0] else "dir" for p, stamp in snapshot(tmp_path).items()}

    before = files()
    rest = [a.format(tmp=tmp_path) for a in command[1:]]
    rc, out, err = run_cli(capsys, command[0], run, *rest, "--device", "nodevice")
    assert_one_line_error(rc, err, "unknown device 'nodevice'")
    assert files() == before                      # no logs, no codes, nothing half-written
