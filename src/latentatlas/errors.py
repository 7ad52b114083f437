"""The one exception type a user can cause.

Anything raised as `UserError` is printed by the CLI as one line
(`latentatlas: error: ...`) with exit code 2 and no traceback. Raise it for bad
paths, corrupt files, wrong options; let real bugs raise anything else.
"""


class UserError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    exit_code = 2

    def _render_traceback_(self) -> list[str]:
        """IPython / Jupyter show this instead of a traceback: the one line the CLI prints."""
        return [f"latentatlas: error: {self}"]
