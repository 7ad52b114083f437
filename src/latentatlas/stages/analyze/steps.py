"""The steps of one analysis section: each timed, printed as it ends, recorded in metrics.json."""

from __future__ import annotations

import time

from ...rundir import RunDir


class Steps:
    """Times each step, prints it, and keeps the figures list of a section.

    Beside each figure it keeps the figure's rank key (raw pixels or latent codes, and the
    projection method that drew it), so figures drawn in lanes merge into the order one process
    draws them in without reading their file names."""

    def __init__(self, rd: RunDir, section: str, verbose: bool = True, record: bool = True):
        self.rd, self.section, self.verbose, self.record = rd, section, verbose, record
        self.timings: dict[str, float] = {}
        self.figures: list[dict] = []
        self.figure_keys: list[tuple[bool, str]] = []

    def run(self, step: str, fn, *args, **kwargs):
        from ...runtime.progress import ticking

        t0 = time.perf_counter()
        with ticking(f"  {self.section} {step}", show=self.verbose):     # a long step is seen running
            out = fn(*args, **kwargs)
        s = time.perf_counter() - t0
        self.timings[step] = round(s, 3)
        if self.record:                # a lane's process hands its timings back instead
            self.rd.record_timing(f"analyze.{self.section}.{step}", s)
        if self.verbose:
            print(f"  {self.section:<12s} {step:<28s} {s:8.1f} s", flush=True)
        return out

    def figure(self, path, title: str, kind: str, caption: str, section: str | None = None,
               method: str = "", raw: bool = False) -> None:
        """List a figure; `section` is its report section (default: the one named like this stage's);
        `method` and `raw` say which projection drew it, of the codes or of the raw pixels."""
        self.figures.append({"path": str(path.relative_to(self.rd.path)), "title": title, "kind": kind,
                             "section": section or self.section, "caption": caption})
        self.figure_keys.append((raw, method))
