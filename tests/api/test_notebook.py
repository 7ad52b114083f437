"""examples/quickstart.ipynb, executed end to end (nbclient) against a kernel running this very
interpreter, so the example can never rot."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path


NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def _kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for sys.executable in a private JUPYTER_PATH (never the user's kernels)."""
    name = "latentatlas-test"
    spec_dir = tmp_path / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "latentatlas (test)", "language": "python",
            "env": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p and "site-packages" not in p)}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("LATENTATLAS_NO_BAR", "1")
    return name


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")     # the sweep's Ray: short socket paths
    monkeypatch.setenv("RAY_TMPDIR", ray_tmp)
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(16))   # else Ray writes ~/.ray/auth_token
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    client = NotebookClient(nb, kernel_name=_kernel(tmp_path, monkeypatch), timeout=600,
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute()   # any cell that raises (but the one tagged raises-exception) fails the test
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)

    outputs = {i: c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    kinds = [set(k for o in outs for k in o.get("data", {})) for outs in outputs.values()]
    summary = next(o for outs in outputs.values() for o in outs if "text/html" in o.get("data", {})
                   and "latentatlas run" in o["data"]["text/html"])
    assert "runs/quickstart" in summary["data"]["text/html"]
    assert sum("image/png" in k for k in kinds) >= 3                # the figures show inline
    assert (work / "runs" / "quickstart" / "report.html").is_file()
    # la.sweep: the table shows as a DataFrame, every trial ok, and the sweep report is written
    table = next(o["data"]["text/html"] for outs in outputs.values() for o in outs
                 if "latent_dim=8" in o.get("data", {}).get("text/html", ""))
    assert "latent_dim=2" in table and table.count(">ok<") == 2
    assert (work / "runs" / "quickstart-sweep" / "sweep.html").is_file()
    assert (work / "runs" / "quickstart-sweep" / "trials" / "latent_dim=8" / "report.html").is_file()
    # the mistake at the end: one line, not a page of traceback
    errors = [o for outs in outputs.values() for o in outs if o.get("output_type") == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "UserError"
    assert errors[0]["traceback"] == ["latentatlas: error: unknown setting 'latnet_dim' (did you mean 'latent_dim'?)"]
