"""Numbers from metrics.json as HTML: formatting, key/value tables, matrices.

Every value shown in the report passes through here, read from metrics.json as
the stage wrote it; every string is HTML-escaped (class names are user data).
"""

from __future__ import annotations

import html
from typing import Any, Sequence

DASH = "\u2014"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A number as people read it: 0.9316, 101.55, 60,000, 1.2e-05; None as a dash."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        a = abs(value)
        if value == 0:
            return "0"
        if a >= 1e6:
            return f"{value:,.0f}"
        if a >= 100:
            return f"{value:,.2f}".rstrip("0").rstrip(".")
        if a >= 1e-3:
            return f"{value:.4f}".rstrip("0").rstrip(".")
        return f"{value:.2e}"
    return esc(value)


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def is_matrix(v: Any) -> bool:
    return (isinstance(v, list) and len(v) > 0 and all(isinstance(r, list) and r for r in v)
            and all(is_scalar(x) and not isinstance(x, str) for r in v for x in r))


def label(key: str) -> str:
    """metrics key -> column title: 'test_loss' -> 'test loss'."""
    return esc(str(key).replace("_", " "))


def kv_table(d: dict, skip: Sequence[str] = ("figures",)) -> str:
    rows = [f"<tr><th>{label(k)}</th><td class=\"{'num' if not isinstance(v, str) else ''}\">{fmt(v)}</td></tr>"
            for k, v in d.items() if k not in skip and is_scalar(v)]
    rows += [f"<tr><th>{label(k)}</th><td>{esc(', '.join(map(str, v)))}</td></tr>"
             for k, v in d.items() if k not in skip and isinstance(v, list) and v and all(isinstance(x, str) for x in v)]
    rows += [f"<tr><th>{label(k)}</th><td class=\"mono\">{', '.join(fmt(x) for x in v[:24])}"
             f"{' &hellip;' if len(v) > 24 else ''}</td></tr>"
             for k, v in d.items() if k not in skip and isinstance(v, list) and v
             and all(is_scalar(x) and not isinstance(x, str) for x in v)]
    if not rows:
        return ""
    # Many short pairs flow into columns (CSS grid) instead of one long list.
    return f'<table class="kv{" wide" if len(rows) > 8 else ""}">{"".join(rows)}</table>'


def records_table(rows: dict[str, dict], columns: Sequence[str] | None = None, row_title: str = "") -> str:
    """{row name: {column: scalar}} as one table (rows = methods, columns = measures)."""
    if not rows:
        return ""
    if columns is None:
        columns = []
        for r in rows.values():
            for k, v in r.items():
                if k not in columns and k != "figures" and is_scalar(v):
                    columns.append(k)
    head = f"<tr><th>{esc(row_title)}</th>" + "".join(f'<th class="num">{label(c)}</th>' for c in columns) + "</tr>"
    body = []
    for name, r in rows.items():
        cells = "".join(f'<td{"" if isinstance(r.get(c), str) else " class=num"}>{fmt(r.get(c))}</td>'
                        for c in columns)
        body.append(f"<tr><th>{esc(name)}</th>{cells}</tr>")
    return f'<div class="table-scroll"><table>{head}{"".join(body)}</table></div>'


def matrix_table(m: list[list], row_names: Sequence[str] | None = None,
                 col_names: Sequence[str] | None = None, corner: str = "") -> str:
    """A confusion matrix or cluster-to-label table, cells shaded by their share of the row."""
    n_cols = max(len(r) for r in m)
    rn = list(row_names) if row_names and len(row_names) == len(m) else [str(i) for i in range(len(m))]
    cn = list(col_names) if col_names and len(col_names) == n_cols else [str(j) for j in range(n_cols)]
    head = f'<tr><th class="corner">{esc(corner)}</th>' + "".join(f"<th>{esc(c)}</th>" for c in cn) + "</tr>"
    body = []
    for name, row in zip(rn, m):
        total = sum(abs(x) for x in row if x is not None) or 1.0
        cells = []
        for x in row:
            share = 0.0 if x is None else min(1.0, abs(x) / total)
            cells.append(f'<td style="background: rgba(53, 87, 196, {share * 0.75:.3f});'
                         f'{" color:#fff;" if share > 0.55 else ""}">{fmt(x)}</td>')
        body.append(f"<tr><th>{esc(name)}</th>{''.join(cells)}</tr>")
    return f'<div class="table-scroll"><table class="matrix">{head}{"".join(body)}</table></div>'


def _is_path(v: Any) -> bool:
    """A figure file named inside a metrics section: shown as a figure, not as text."""
    return isinstance(v, str) and v.lower().endswith((".png", ".gif", ".html", ".jpg", ".svg", ".npz"))


def _flat(d: dict) -> bool:
    return bool(d) and all(is_scalar(v) for v in d.values())


def _number_lists(d: dict) -> bool:
    """{name: [numbers]} with equal lengths (class means per dimension, ...)."""
    vals = list(d.values())
    return (bool(vals) and all(isinstance(v, list) and v and all(isinstance(x, (int, float)) and not
                                                                  isinstance(x, bool) for x in v) for v in vals)
            and len({len(v) for v in vals}) == 1)


def _records(d: dict) -> dict:
    """The entries of d that are records: dicts with at least one scalar (not a path) field."""
    return {k: v for k, v in d.items() if k not in ("figures", "timings") and isinstance(v, dict)
            and any(is_scalar(x) and not _is_path(x) for x in v.values())}


def _record_table(recs: dict, class_names, depth: int) -> str:
    """Methods as rows, their scalar measures as columns; their nested tables below."""
    columns: list[str] = []
    for r in recs.values():
        for k, v in r.items():
            if k not in columns and k != "figures" and is_scalar(v) and not _is_path(v):
                columns.append(k)
    parts = [records_table(recs, columns)]
    nested_keys: list[str] = []
    for r in recs.values():
        for k, v in r.items():
            if k not in nested_keys and k != "figures" and not is_scalar(v):
                nested_keys.append(k)
    for key in nested_keys:
        present = {name: r[key] for name, r in recs.items() if key in r}
        if all(isinstance(v, dict) and _flat(v) for v in present.values()):
            cols: list[str] = []
            for v in present.values():
                cols += [c for c in v if c not in cols]
            parts.append(f"<h4>{label(key)}</h4>" + records_table(present, cols))
        else:
            for name, v in present.items():
                inner = render_any(v, class_names, depth + 1)
                if inner:
                    parts.append(f"<details><summary>{esc(name)}: {label(key)}</summary>{inner}</details>")
    return "".join(parts)


def render_any(value: Any, class_names: Sequence[str] | None = None, depth: int = 0) -> str:
    """Best-effort rendering of a metrics sub-tree whose exact shape the report does not know."""
    if is_scalar(value):
        return "" if _is_path(value) else f"<p>{fmt(value)}</p>"
    if is_matrix(value):
        return matrix_table(value, class_names, class_names)
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            named = {}
            for i, v in enumerate(value):
                name = v.get("label") or v.get("name") or v.get("method") or str(i)
                named[str(name)] = v
            return _record_table(named, class_names, depth)
        return f'<p class="mono">{", ".join(fmt(v) if is_scalar(v) else "&hellip;" for v in value[:40])}</p>'
    if not isinstance(value, dict):
        return ""
    scalars = {k: v for k, v in value.items() if not _is_path(v)}
    parts = [kv_table(scalars)]
    recs = _records(value)
    if recs:
        parts.append(_record_table(recs, class_names, depth))
    for k, v in value.items():
        if k == "figures" or k in recs or is_scalar(v) or (isinstance(v, list) and all(is_scalar(x) for x in v)):
            continue
        if k == "timings" and isinstance(v, dict):
            parts.append(f"<details><summary>step timings (seconds)</summary>{kv_table(v)}</details>")
            continue
        if isinstance(v, dict) and _number_lists(v):
            inner = matrix_table(list(v.values()), [str(x) for x in v.keys()], None)
        else:
            inner = render_any(v, class_names, depth + 1)
        if not inner:
            continue
        if depth >= 1 or (isinstance(v, dict) and _number_lists(v)):
            parts.append(f"<details><summary>{label(k)}</summary>{inner}</details>")
        else:
            parts.append(f"<h4>{label(k)}</h4>{inner}")
    return "".join(parts)


def get_path(metrics: dict, dotted: str) -> Any:
    """metrics["a"]["b"][0] for "a.b.0"; None where any step is missing."""
    cur: Any = metrics
    for part in dotted.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur
