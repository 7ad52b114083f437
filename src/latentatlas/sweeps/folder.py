"""The sweep folder: one table of its names, its lock, and each trial's record.

    DIR/sweep.json          the sweep: grid, seeds, base settings, every trial's record (the driver writes it)
    DIR/sweep.html          the sweep report, one self-contained file
    DIR/trials/<name>/      an ordinary run folder per trial (its own report.html)
    DIR/trials/<name>.json  the trial's record: settings, config hash, ok or failed (+ the one-line
                            error), seconds, node; written by the trial itself when it ends
    DIR/tune/               Ray Tune's own experiment files
    DIR/.lock               held by the `latentatlas sweep` writing the folder

A record is what makes a trial *finished*: status "ok" under the same config hash with its run
folder's report.html present, or "failed" under the same hash (run again with --retry-failed). Trials of a killed sweep have no record, or a run folder that the
pipeline resumes from its last stage (training from its checkpoint).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..rundir import LOCK, REPORT, RunDir, RunLock, atomic_write_json, read_json

SWEEP_JSON = "sweep.json"
SWEEP_REPORT = "sweep.html"
TRIALS_DIR = "trials"
TUNE_DIR = "tune"


class SweepFolder:
    """DIR of a sweep (duck-types RunDir for RunLock: .path and check_writable)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SweepFolder({str(self.path)!r})"

    @property
    def trials(self) -> Path:
        return self.path / TRIALS_DIR

    def trial_dir(self, name: str) -> Path:
        return self.trials / name

    def record_path(self, name: str) -> Path:
        return self.trials / f"{name}.json"

    def is_sweep(self) -> bool:
        return (self.path / SWEEP_JSON).is_file()

    def check_writable(self) -> None:
        """Refuse a file, a run folder, or a folder holding something other than a sweep."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; choose another --out")
        if RunDir(self.path).is_run():
            raise UserError(f"{self.path} is a latentatlas run, not a sweep; choose another --out for the sweep")
        ours = {SWEEP_JSON, SWEEP_REPORT, TRIALS_DIR, TUNE_DIR, LOCK}
        if self.path.is_dir() and not self.is_sweep() and any(p.name not in ours for p in self.path.iterdir()):
            raise UserError(f"{self.path} holds files that are not a latentatlas sweep; "
                            "refusing to write there (choose an empty or new --out folder)")

    def lock(self, wait: bool = False):
        return RunLock(self, wait=wait, command="latentatlas sweep")

    # -- records -----------------------------------------------------------------------------
    def read_record(self, name: str) -> dict | None:
        path = self.record_path(name)
        if not path.is_file():
            return None
        try:
            record = read_json(path)
        except UserError:
            return None                       # a damaged record: the trial runs again
        return record if isinstance(record, dict) else None

    def write_record(self, name: str, record: dict) -> None:
        atomic_write_json(self.record_path(name), record)

    def finished(self, name: str, config_hash: str, failed_too: bool = True, stopped_too: bool = True) -> dict | None:
        """The record of a trial finished with these settings (reused, not run again), else None:
        ok with its report.html there, failed (unless failed_too is False: --retry-failed), or
        stopped early by a scheduler (unless stopped_too is False: a sweep without --scheduler)."""
        record = self.read_record(name)
        if not record or record.get("config_hash") != config_hash:
            return None
        status = record.get("status")
        if status == "ok" and (self.trial_dir(name) / REPORT).is_file():
            return record
        if (status == "failed" and failed_too) or (status == "stopped" and stopped_too):
            return record
        return None

    def read_sweep(self) -> dict:
        if not self.is_sweep():
            raise UserError(f"{self.path} is not a latentatlas sweep (no {SWEEP_JSON}); "
                            "give a folder written by `latentatlas sweep --out`")
        return read_json(self.path / SWEEP_JSON)

    def write_sweep(self, sweep: dict) -> None:
        atomic_write_json(self.path / SWEEP_JSON, sweep)


def trial_dirs(path) -> list[Path]:
    """The run folders of a sweep's trials that hold a run, in the sweep's order."""
    folder = SweepFolder(path)
    names = [t["name"] for t in folder.read_sweep().get("trials", [])]
    return [folder.trial_dir(n) for n in names if RunDir(folder.trial_dir(n)).is_run()]
