"""The user's own per-point columns, from a CSV given as `latentatlas explore RUN --columns my.csv`.

    columns = read_columns(path, n)     # name -> (values (n,), categories or None)

The file has a header row. Rows are the run's points in latents.npz's order (train rows, then
test rows), one row per point; or, when a column is named `index`, each row names its point
(points no row names are left blank: NaN, or the category "(blank)"). A column whose every
non-blank entry is a finite number is continuous (float32); any other is categorical (at most
MAX_CATEGORIES distinct values, as uint16 codes). Anything else is one UserError line.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..errors import UserError

MAX_CATEGORIES = 1000
MAX_COLUMNS = 64
BLANK = "(blank)"


def read_columns(path, n: int) -> dict:
    path = Path(path)
    where = f"--columns {path}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise UserError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{where}: cannot be read as a UTF-8 CSV ({str(exc)[:80]})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise UserError(f"{where}: needs a header row and at least one row of values")
    header = [h.strip() for h in rows[0]]
    _check_header(header, where)
    body = rows[1:]
    for k, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise UserError(f"{where}: line {k} has {len(r)} fields; the header has {len(header)}")
    cells = {h: [r[j].strip() for r in body] for j, h in enumerate(header)}
    rows_of = _rows_of(cells.pop("index", None), len(body), n, where)
    return {h: _column(h, values, rows_of, n, where) for h, values in cells.items()}


def _check_header(header: list, where: str) -> None:
    if any(not h for h in header):
        raise UserError(f"{where}: every header field needs a name")
    if len(set(header)) != len(header):
        raise UserError(f"{where}: the header names a column twice")
    names = [h for h in header if h != "index"]
    if not names:
        raise UserError(f"{where}: no column besides index")
    if len(names) > MAX_COLUMNS:
        raise UserError(f"{where}: {len(names)} columns; at most {MAX_COLUMNS}")


def _rows_of(index, n_rows: int, n: int, where: str) -> np.ndarray:
    """The point of each CSV row: the `index` column, or rows in order (exactly n of them)."""
    if index is None:
        if n_rows != n:
            raise UserError(f"{where}: {n_rows} rows, but the run has {n} points (train then test); "
                            "give one row per point, or an index column")
        return np.arange(n)
    if not all(v.isascii() and v.isdigit() and len(v) <= 12 for v in index):
        raise UserError(f"{where}: the index column must hold non-negative integers")
    rows = np.asarray([int(v) for v in index], np.int64)
    if rows.max() >= n:
        raise UserError(f"{where}: index {int(rows.max())} is out of range (the run has points 0..{n - 1})")
    if len(np.unique(rows)) != len(rows):
        raise UserError(f"{where}: the index column names a point twice")
    return rows


def _column(name: str, values: list, rows_of: np.ndarray, n: int, where: str):
    numbers = [_number(v) for v in values]
    if all(x is not None for x, v in zip(numbers, values) if v):
        out = np.full(n, np.nan, np.float32)
        out[rows_of] = [np.nan if x is None else x for x in numbers]
        return out, None
    cats = sorted({v for v in values if v})
    if len(cats) > MAX_CATEGORIES:
        raise UserError(f"{where}: column {name!r} has {len(cats)} distinct values; at most "
                        f"{MAX_CATEGORIES} for a categorical column (or make it numeric)")
    names = cats + [BLANK] if (len(rows_of) < n or "" in values) else cats
    code = {c: k for k, c in enumerate(names)}
    out = np.full(n, code.get(BLANK, 0), np.uint16)
    out[rows_of] = [code[v or BLANK] for v in values]
    return out, names


def _number(text: str):
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) and abs(x) < 3e38 else None
