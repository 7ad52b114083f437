"""Progress is seen in a log too: tqdm's default hides a bar when stderr is not a terminal."""

import time

from latentatlas.runtime.progress import progress_bar, ticking


def test_a_bar_shows_when_stderr_is_not_a_terminal(capsys):
    with progress_bar(3, "judge: training", mininterval=0) as bar:
        for _ in range(3):
            bar.update()
    err = capsys.readouterr().err
    assert "judge: training" in err and "3/3" in err
    with progress_bar(3, "hidden", show=False) as bar:
        bar.update(3)
    assert "hidden" not in capsys.readouterr().err


def test_a_step_of_unknown_length_ticks_while_it_runs(capsys, monkeypatch):
    from latentatlas.runtime import progress

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)
    with ticking("analyze: t-SNE", every=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert err.count("analyze: t-SNE") >= 3                 # refreshed while it ran, not only at the end
    with ticking("silent", show=False):
        pass
    assert "silent" not in capsys.readouterr().err
