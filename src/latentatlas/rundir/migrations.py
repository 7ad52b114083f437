"""Run-folder format versions, and the numbered migrations that read older folders.

    version  written by                        what it changed
    0        releases before colour support    (a folder: dataset's [data] table has no "color":
             (before ed16410)                  its images were read grey, PNG/JPEG only, stretched)
    1        ed16410 .. 3eefde6                every [data] table names its colour and fit rule;
                                               no version recorded
    2        this release                      run.json records "format_version"

The version lives in run.json, whose readers (`latentatlas run`, the report, in this release
and the older ones) take the keys they know and pass over the others. config.json would not
do: it is also a config file (`--config RUN/config.json`), whose unknown sections are
refused; nor metrics.json, which the report and MLflow read whole. A folder that records no
version is version 0 or 1, told apart by its config.json.

Migration N brings a folder of version N-1 to version N. Reading applies the migrations in
memory (RunDir.config_section), so old folders open, analyse and report as they always did.
A write into a run folder records FORMAT_VERSION in run.json once every migration from the
folder's version can be written down: migration 1 cannot (fit "legacy" is no setting a config
file may give), so a version-0 folder stays version 0 on disk and is read through migration 1
every time. A folder recording a version newer than FORMAT_VERSION is refused, in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError
from .files import FORMAT_KEY, FORMAT_VERSION


@dataclass(frozen=True)
class Migration:
    version: int                      # the version it leads to (from version - 1)
    what: str
    upgrade: Callable[[dict], dict]   # config.json as written -> as the stages read it
    written: bool                     # whether a folder it applies to may then record the new version


# The one dataset rule of the run format: folder runs were read grey before colour support.
# It lives here, with the formats it migrates (data/ sits above the run folder).
PRE_COLOUR_PREFIX = "folder:"


def read_before_colour(name) -> bool:
    """Whether a run of this dataset name was read grey and stretched before colour support."""
    return str(name or "").startswith(PRE_COLOUR_PREFIX)


def _before_colour(table) -> bool:
    """A folder: dataset's [data] table written before colour support (no "color" key)."""
    return isinstance(table, dict) and read_before_colour(table.get("name")) and "color" not in table


def _folders_read_grey(config: dict) -> dict:
    """Version 0 -> 1: a folder: run written before colour support was trained on its images
    read grey, PNG/JPEG only, stretched to size: load them that way again, so analyze, report,
    explore and encode of an old colour-photo run still fit its model."""
    if not _before_colour(config.get("data")):
        return config
    return {**config, "data": {**config["data"], "color": "grey", "fit": "legacy"}}


def _records_version(config: dict) -> dict:
    """Version 1 -> 2: run.json records format_version; no file changes otherwise."""
    return config


MIGRATIONS = (
    Migration(1, "folder: runs before colour support load grey, PNG/JPEG only, stretched",
              _folders_read_grey, written=False),
    Migration(2, "run.json records the folder's format_version", _records_version, written=True),
)
assert [m.version for m in MIGRATIONS] == list(range(1, FORMAT_VERSION + 1))


def recorded_version(state: dict, where) -> int | None:
    """The format_version run.json records (None when it records none); one-line UserError
    for a version newer than this release reads, or a value that is no version."""
    version = state.get(FORMAT_KEY)
    if version is None:
        return None
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise UserError(f"{where} has {FORMAT_KEY} {version!r}, which is not a run format (a whole number "
                        f"up to {FORMAT_VERSION}); restore it, or delete that key")
    if version > FORMAT_VERSION:
        raise UserError(f"{Path(where).parent} is in run format {version} ({Path(where).name}), newer than "
                        f"this latentatlas reads (formats 0 to {FORMAT_VERSION}); upgrade latentatlas to open it")
    return version


def version_of(state: dict, config: dict, where) -> int:
    """The folder's format version: recorded in run.json (`state`), else 0 or 1 by its config."""
    recorded = recorded_version(state, where)
    if recorded is not None:
        return recorded
    return 0 if _before_colour(config.get("data")) else 1


def upgrade(config: dict, version: int) -> dict:
    """config.json of a folder of `version`, as this release's stages read it (in memory)."""
    for migration in MIGRATIONS[version:]:
        config = migration.upgrade(config)
    return config


def recordable(version: int) -> bool:
    """Whether a folder of `version` may record FORMAT_VERSION (every later migration written)."""
    return all(m.written for m in MIGRATIONS[version:])
