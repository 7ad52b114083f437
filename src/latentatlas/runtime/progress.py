"""Progress that is seen: every stage's bars, on a terminal and in a log alike.

tqdm's `disable=None` hides a bar whenever stderr is not a terminal (a pipe, `nohup`, a CI log),
so a long stage looked hung there. These helpers show it everywhere (as training's bar always
did), refreshing a log less often than a terminal:

    progress_bar(total, desc, show=True, **tqdm_kwargs) -> tqdm     a bar of known length
    ticking(desc, show=True)                                         a context: elapsed seconds,
                                                                     refreshed each second, for a
                                                                     step with no count of its own
                                                                     (a t-SNE, a mixture fit)
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager

TERMINAL_INTERVAL = 0.1     # seconds between a terminal bar's redraws (tqdm's default)
LOG_INTERVAL = 5.0          # in a log: a line every few seconds is enough, and keeps it short


def _interactive() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress_bar(total, desc: str, show: bool = True, **kwargs):
    """A tqdm bar on stderr, shown whether or not stderr is a terminal (`show` False: none)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", TERMINAL_INTERVAL if _interactive() else LOG_INTERVAL)
    return tqdm(total=total, desc=desc, disable=not show, file=sys.stderr, **kwargs)


@contextmanager
def ticking(desc: str, show: bool = True, every: float = 1.0):
    """While the block runs, a line `desc: 12s` whose seconds count up (one refresh each `every`
    seconds, from a daemon thread), so a step of unknown length never sits silent."""
    if not show:
        yield
        return
    bar = progress_bar(None, desc, bar_format="{desc}: {elapsed}", mininterval=every)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(every if _interactive() else LOG_INTERVAL):
            bar.refresh()

    thread = threading.Thread(target=tick, name="latentatlas-ticking", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        bar.close()
