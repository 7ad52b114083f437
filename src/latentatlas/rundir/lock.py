"""The run folder's write lock: an exclusive flock on <run>/.lock, re-entrant in one process."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from ..errors import UserError
from .atomic import _mkdir, write_error
from .files import LOCK


class RunLockedError(UserError):
    """Another process is writing the run folder."""


class RunLock:
    """An exclusive flock on <run>/.lock while a process writes the run folder.

    The kernel drops a flock when its holder dies, however it dies, so a lock left by a
    killed process never blocks: the file may remain, but nobody holds it. Re-entrant
    within one process (run_pipeline takes it, then each stage it calls takes it again):
    the process keeps one descriptor per folder and counts the nesting. The lock file is
    removed by the last release (while still held; an acquirer checks that the file it
    locked is still the one at the path, so removing it is safe).

    `run` is a RunDir: its check_writable() refuses, before the lock is taken, a folder that
    is not a run or is in a run format newer than this release writes.
    """

    _held: dict[str, list] = {}          # realpath -> [fd, depth, folders it created]
    _guard = threading.Lock()

    def __init__(self, run, wait: bool = False, command: str | None = None):
        self.run, self.wait = run, wait
        self.command = command or _command_line()

    def __enter__(self):
        key = self._key = os.path.realpath(self.run.path)
        with RunLock._guard:
            held = RunLock._held.get(key)
            if held is not None:
                held[1] += 1
                return self.run
        self.run.check_writable()
        created = _missing_folders(self.run.path)
        fd = _acquire(self.run.path, self.wait, self.command)
        with RunLock._guard:
            RunLock._held[key] = [fd, 1, created]
        return self.run

    def __exit__(self, *exc) -> bool:
        key = self._key
        with RunLock._guard:
            held = RunLock._held[key]
            held[1] -= 1
            if held[1]:
                return False
            del RunLock._held[key]
        fd, _, created = held
        with contextlib.suppress(OSError):
            os.unlink(self.run.path / LOCK)
        os.close(fd)                       # releases the flock
        for folder in created:             # a command that failed before writing leaves nothing
            try:
                folder.rmdir()             # only succeeds when empty
            except OSError:
                break
        return False


def _missing_folders(path: Path) -> list[Path]:
    """The folders that creating `path` would make, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _command_line() -> str:
    """How the holder was started, for the refusal message: "latentatlas train"."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if prog in ("__main__.py", "-m", "-c"):
        prog = "latentatlas"
    words = [prog] + [a for a in sys.argv[1:2] if not a.startswith("-")]
    return " ".join(words)


def _acquire(folder: Path, wait: bool, command: str) -> int:
    """flock <folder>/.lock (LOCK_EX); returns the open descriptor, holder info written in it."""
    import fcntl

    path = folder / LOCK
    while True:
        _mkdir(folder)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:          # the folder was removed in between: try again
            continue
        except OSError as exc:
            raise write_error(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{folder} is being written by {_holder(path)}; "
                                 "wait for it, or pass --wait") from None
        try:                               # still the file at the path (not unlinked by its last holder)?
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps({"pid": os.getpid(), "command": command,
                                      "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
                          + "\n").encode())
        except OSError as exc:
            os.close(fd)
            raise write_error(path, exc) from None
        return fd


def _holder(path: Path) -> str:
    """"PID 1234 (latentatlas train)", from the lock file (it may be mid-write: retry briefly)."""
    for _ in range(20):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            return f"PID {info['pid']} ({info.get('command') or 'latentatlas'})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "another process"
