"""Early stopping (`latentatlas sweep --scheduler asha`): Ray Tune's ASHAScheduler on the test loss
of each epoch.

    scheduler = make_scheduler("asha", specs)     # for tune.TuneConfig(scheduler=...)
    with reporting(name):                         # in the trial: every epoch's test loss to Tune
        run_pipeline(...)                         # raises TrialStopped when ASHA stops the trial

The trial's training tells Tune each epoch's test loss (all but the last) through a tracker (tracking.added_trackers),
from inside the trial; Tune answers a trial that ASHA stops by ending its report call (SystemExit in
the trial's thread), which becomes TrialStopped here: the trial's record says "stopped" with the
epoch, its run folder keeps the epochs it trained, and a sweep with the scheduler run again keeps it
(a sweep without the scheduler trains it on from there).
"""

from __future__ import annotations

import contextlib

from ..errors import UserError

SCHEDULERS = ("asha",)
METRIC = "test_loss"


class TrialStopped(BaseException):
    """ASHA stopped this trial after `epoch` (a BaseException: the trackers' guard lets it through)."""

    def __init__(self, epoch: int, test_loss: float | None):
        super().__init__(f"stopped early by ASHA after epoch {epoch}")
        self.epoch, self.test_loss = epoch, test_loss

    def note(self) -> str:
        loss = "" if self.test_loss is None else f" (test loss {self.test_loss:.2f})"
        return f"stopped early by ASHA after epoch {self.epoch}{loss}"


class TuneReporter:
    """A tracker (tracking.Tracker) that reports each epoch's test loss to Ray Tune."""

    name = "tune"

    def __init__(self, trial: str, epochs: int):
        self.trial, self.epochs = trial, epochs

    def on_epoch(self, epoch: int, row: dict) -> None:
        from ray import tune

        if epoch >= self.epochs:   # the last: the trial trained to its end and goes on to its analysis
            return
        loss = row.get(METRIC)
        try:
            tune.report({METRIC: loss, "epoch": epoch, "trial": self.trial})
        except SystemExit:         # Tune's answer to a trial its scheduler stops
            raise TrialStopped(epoch, loss) from None

    def on_step(self, step, losses, lr) -> None:
        pass

    def on_images(self, epoch, tag, image) -> None:
        pass

    def on_finish(self, run_dir, metrics) -> None:
        pass

    def close(self) -> None:
        pass


@contextlib.contextmanager
def reporting(trial: str, epochs: int, on: bool = True):
    """Training in the block reports each epoch but the last (of `epochs`) to Tune; nothing when not `on`."""
    from ..tracking import added_trackers

    with added_trackers(*([TuneReporter(trial, epochs)] if on else [])):
        yield


def check_scheduler(name: str | None) -> None:
    if name is not None and name not in SCHEDULERS:
        raise UserError(f"--scheduler {name!r}: the schedulers are {', '.join(SCHEDULERS)} "
                        "(or leave it out to run every trial to the end)")


def make_scheduler(name: str | None, specs: dict):
    """Tune's scheduler for `name` (None: none): ASHA over the epochs, the longest trial's as its
    end, judging first after epoch 1 and keeping the better half at each rung (a trial's last epoch
    is not reported: one that trained to its end is never stopped)."""
    check_scheduler(name)
    if name is None:
        return None
    from ray.tune.schedulers import ASHAScheduler

    epochs = [((s.get("config") or {}).get("train") or {}).get("epochs") or 1 for s in specs.values()]
    return ASHAScheduler(time_attr="epoch", metric=METRIC, mode="min", max_t=max([1, *epochs]),
                         grace_period=1, reduction_factor=2)
