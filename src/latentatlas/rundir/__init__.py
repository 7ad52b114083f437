"""The run directory: the one place every pipeline stage reads and writes.

    runs/<name>/
      config.json          resolved configuration (data, model, train, analysis, generate)
      model.safetensors    weights (no pickle)
      model.json           what is needed to rebuild the model
      history.jsonl        one line per epoch
      checkpoint/          last.safetensors: weights, optimizer and loop state for --resume
      progress/            image grids saved as training progresses
      latents.npz          per split: means (and log-variances for a VAE), labels
      maps.npz             2-D views of the codes and the explorer's colourings
      metrics.json         every figure the stages measured, one section per stage
      run.json             the folder's format_version; what `latentatlas run` finished, with
                           which fingerprint
      figures/             PNG, GIF and interactive HTML pieces
      report.html          one file, readable offline
      .lock                held (flock) by the process writing the folder: its PID and command

Only this package knows these names and formats; stages ask a `RunDir`.

    files.py       the table of names and formats, FORMAT_VERSION
    atomic.py      the one atomic, durable writer (RunWriteError: one line on a full disk)
    lock.py        the folder's write lock (RunLock, RunLockedError)
    migrations.py  the format versions, and the migrations that read older folders
    run.py         RunDir

Every write goes through `atomic_write`: a temporary file in the same folder, fsync,
rename over the target, fsync of the folder. So an interrupted command never leaves a
file that looks complete, and a write that fails (full disk, read-only file system,
permissions) raises `RunWriteError`: one line naming the file, the cause and the fix,
with the file's previous version intact.
"""

from .atomic import (RunWriteError, atomic_save, atomic_write, atomic_write_bytes, atomic_write_json,
                     atomic_write_text, read_json, write_error, write_npz)
from .files import (CHECKPOINT, CHECKPOINT_DIR, CONFIG, FIGURES_DIR, FORMAT_KEY, FORMAT_VERSION, HISTORY,
                    LATENTS, LOCK, MAPS, METRICS, MODEL_JSON, PROGRESS_DIR, REPORT, RUN_FILES, RUN_MARKERS,
                    RUN_STATE, TENSORBOARD_DIR, TRACKING, WEIGHTS)
from .lock import RunLock, RunLockedError
from .run import RunDir

__all__ = [
    "CHECKPOINT", "CHECKPOINT_DIR", "CONFIG", "FIGURES_DIR", "FORMAT_KEY", "FORMAT_VERSION", "HISTORY",
    "LATENTS", "LOCK", "MAPS", "METRICS", "MODEL_JSON", "PROGRESS_DIR", "REPORT", "RUN_FILES", "RUN_MARKERS",
    "RUN_STATE", "TENSORBOARD_DIR", "TRACKING", "WEIGHTS",
    "RunDir", "RunLock", "RunLockedError", "RunWriteError",
    "atomic_save", "atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "read_json",
    "write_error", "write_npz",
]
