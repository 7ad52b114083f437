"""The explorer's API as plain functions: validated input in, JSON-ready dicts (or bytes) out.

Every check of client input lives here and raises `RequestError(status, line)`;
`server.py` only wires these functions to routes. Images travel as PNG data
URIs inside JSON (one round trip per answer), or as raw PNG for /api/image.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from ..estimators.factors import CIRCULAR
from .packing import pack
from .security import Limits, RequestError
from .sprites import MAX_SPRITES, atlas
from .state import VIEW_TITLES, ExploreState, NonFiniteDecode, gif, png, strip

MAX_NUMBER = 1e9          # any other number a client sends (bounds far tighter apply to codes and places)
UMAP_WALK_STEPS = 12      # umap's inverse_transform costs seconds per position


# ---------------------------------------------------------------- input checks
def as_index(value, n: int) -> int:
    """A point index 0..n-1 from a path segment or JSON value."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RequestError(400, "index must be an integer")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit() or len(value) > 12:
            raise RequestError(400, f"index must be a non-negative integer, not {value[:20]!r}")
        value = int(value)
    if not 0 <= value < n:
        raise RequestError(404, f"index {value} out of range (0..{n - 1})")
    return value


def as_number(value, name: str, lo: float = -MAX_NUMBER, hi: float = MAX_NUMBER) -> float:
    """A finite number in lo..hi. Compared before any float conversion: an integer of 400
    digits is refused here, not by an OverflowError (or an inf) further on."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(400, f"{name} must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(400, f"{name} must be finite")
    if not lo <= value <= hi:
        raise RequestError(400, f"{name} must lie in {lo:.4g}..{hi:.4g} (the range this run's model can use)")
    return float(value)


def as_code(value, d: int, limit: float, name: str = "code") -> np.ndarray:
    """d numbers, each within ±limit (ExploreState.code_limit: beyond it the decoder's output is noise or NaN)."""
    if not isinstance(value, list):
        raise RequestError(400, f"{name} must be a list of {d} numbers")
    if len(value) != d:
        raise RequestError(400, f"{name} has {len(value)} numbers; this latent has {d}")
    return np.asarray([as_number(v, f"every {name} entry", -limit, limit) for v in value], np.float32)


def as_place(view, body: dict) -> tuple[float, float]:
    """(x, y) on a view, inside the box the view's points span widened on every side (View.bounds)."""
    (x0, x1), (y0, y1) = view.bounds
    return as_number(body.get("x"), "x", x0, x1), as_number(body.get("y"), "y", y0, y1)


def decoded(state: ExploreState, codes: np.ndarray) -> np.ndarray:
    """The decoder's images of codes checked here: every entry finite and within ±code_limit
    (a mix, a traversal or umap's inverse can leave the range even when each number sent was in it)."""
    codes = np.asarray(codes, np.float32)
    if not np.isfinite(codes).all() or np.abs(codes).max() > state.code_limit:
        raise RequestError(400, f"the code leaves the range this run's model can use (every entry within "
                                f"±{state.code_limit:.4g})")
    try:
        return state.decode(codes)
    except NonFiniteDecode:
        raise RequestError(422, "the decoder gave non-finite pixels for this code") from None


def as_int(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(400, f"{name} must be an integer in {lo}..{hi}")
    return value


def as_query_int(value: str, name: str, lo: int, hi: int) -> int:
    """An integer from a query string (?k=8)."""
    if not value.isascii() or not value.isdigit() or len(value) > 6 or not lo <= int(value) <= hi:
        raise RequestError(400, f"{name} must be an integer in {lo}..{hi}")
    return int(value)


def as_view(state: ExploreState, value):
    if not isinstance(value, str) or value not in state.views:
        raise RequestError(400, f"unknown view; this run has {', '.join(state.views) or 'none'}")
    return state.views[value]


def as_rule(view, value) -> str:
    if value is None:
        return "auto"
    if not isinstance(value, str) or (value != "auto" and value not in view.inverse.rules):
        raise RequestError(400, f"unknown rule; view {view.name} offers auto, {', '.join(view.inverse.rules)}")
    return value


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def image_uri(image: np.ndarray) -> str:
    return data_uri(png(image))


# ---------------------------------------------------------------- read-only answers
def meta(state: ExploreState, limits: Limits) -> dict:
    counts = np.bincount(state.labels, minlength=len(state.class_names)).tolist()
    colourings = [
        {"name": "class", "title": "class", "kind": "category", "available": True},
        {"name": "cluster", "title": "cluster (Gaussian mixture)", "kind": "category", "available": True,
         "description": f"{len(state.class_names)}-component Gaussian mixture on the codes; labels unused"},
        {"name": "probe_error", "title": "probe error", "kind": "boolean", "available": True,
         "description": f"where the probe ({state.probe_words}) disagrees with the label"},
        {"name": "variance", "title": "posterior variance", "kind": "continuous",
         "available": state.logvar is not None,
         "description": "mean of exp(logvar) over the latent dimensions (VAE only)"},
    ]
    # Factors of variation the dataset knows per image (mnist-color's hue): a circular one is
    # drawn on a cyclic colour scale.
    colourings += [{"name": f"factor_{name}", "title": name, "kind": "cyclic" if name in CIRCULAR else "continuous",
                    "available": True, "description": f"the image's {name}, as the dataset made it"}
                   for name in state.factors]
    # fields.py: reconstruction error, KL, each latent dimension, the user's CSV columns, fetched
    # one column at a time from /api/field when chosen (the points' body stays small)
    colourings += [{**f, "available": True, "field": True} for f in state.fields.meta()]
    views = [{"name": v.name, "title": VIEW_TITLES[v.name], "n_points": len(v.index),
              "rules": v.inverse.rules, "rule": v.inverse.describe(v.inverse.rules[0]), "source": v.source,
              "bounds": v.bounds}
             for v in state.views.values()]
    h, w = state.images.shape[1:3]
    return {"run": state.run.path.name, "dataset": state.dataset, "kind": state.kind,
            "latent_dim": state.latent_dim, "n_points": state.n, "n_train": state.n_train,
            "n_test": state.n - state.n_train, "image_size": [int(h), int(w)],
            "class_names": state.class_names, "class_counts": counts, "views": views,
            "colourings": colourings, "probe": {"words": state.probe_words, "test_accuracy": state.probe_accuracy},
            "sliders": state.sliders, "code_limit": state.code_limit,
            "limits": {"max_path_points": limits.max_path_points, "max_steps": limits.max_steps,
                       "max_body": limits.max_body, "max_neighbours": limits.max_neighbours,
                       "max_sprites": MAX_SPRITES}}


def points(state: ExploreState, view_name) -> bytes:
    """Every point of one view as packed typed arrays (packing.py): x, y (float32), index (int32),
    label, cluster, probe_pred (uint8, or uint16 past 255 classes), probe_error (uint8), variance
    and factor_<name> (float32)."""
    view = as_view(state, view_name)
    idx = view.index
    label, pred = state.labels[idx], state.colourings["probe_pred"][idx]
    cols = {"x": view.xy[:, 0].astype(np.float32), "y": view.xy[:, 1].astype(np.float32),
            "index": idx.astype(np.int32), "label": _category(label),
            "cluster": _category(state.colourings["cluster"][idx]), "probe_pred": _category(pred),
            "probe_error": (pred != label).astype(np.uint8)}
    if "variance" in state.colourings:
        cols["variance"] = state.colourings["variance"][idx].astype(np.float32)
    for name in state.factors:
        cols[f"factor_{name}"] = state.colourings[f"factor_{name}"][idx].astype(np.float32)
    return pack(cols, view=view.name, n=len(idx))


def _category(codes: np.ndarray) -> np.ndarray:
    """Category codes in the fewest bytes: a million class labels are 1 MB as uint8, not 2."""
    return codes.astype(np.uint8 if len(codes) == 0 or int(codes.max()) < 256 else np.uint16)


def field(state: ExploreState, view_name, name) -> bytes:
    """One per-point field (fields.py) for the points of one view, packed like /api/points: a
    column named after the field, float32 or uint16 (then the head's "categories" names the codes)."""
    view = as_view(state, view_name)
    try:
        values, categories = state.fields.column(name) if isinstance(name, str) else (None, None)
    except KeyError:
        values = None
    if values is None:
        raise RequestError(400, "unknown field; GET /api/meta lists the colourings (those with field: true)")
    return pack({name: values[view.index]}, view=view.name, n=len(view.index), field=name,
                categories=categories)


def sprites(state: ExploreState, body: dict) -> bytes:
    """{indices: [...]} (at most MAX_SPRITES) -> one PNG atlas of their images, in that order (sprites.py)."""
    value = body.get("indices")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SPRITES:
        raise RequestError(400, f"indices must be a list of 1..{MAX_SPRITES} point indices")
    rows = _as_indices(state, value, keep_order=True)
    return atlas(state.images, rows)


def image(state: ExploreState, index: str) -> bytes:
    return png(state.images[as_index(index, state.n)])


def point(state: ExploreState, index: str, k_value) -> dict:
    i = as_index(index, state.n)
    k = 8 if k_value is None else as_query_int(k_value, "k", 1, 32)
    rows, dist = state.neighbours(i, k)
    recon = decoded(state, state.codes[i][None])[0]
    label, pred = int(state.labels[i]), int(state.colourings["probe_pred"][i])
    names = state.class_names
    return {"index": i, "split": "train" if i < state.n_train else "test", "label": label,
            "class": names[label], "probe_pred": pred, "probe_class": names[pred],
            "probe_correct": pred == label, "code": state.codes[i].tolist(),
            "variance": (float(state.colourings["variance"][i]) if "variance" in state.colourings else None),
            "factors": {name: round(float(v[i]), 4) for name, v in state.factors.items()},
            "image": image_uri(state.images[i]), "reconstruction": image_uri(recon),
            "neighbours": [{"index": r, "class": names[int(state.labels[r])], "distance": round(dd, 5),
                            "image": image_uri(state.images[r])} for r, dd in zip(rows, dist)]}


# ---------------------------------------------------------------- decoding
def decode(state: ExploreState, body: dict) -> dict:
    """{code: [...]} or {view, x, y[, rule]} -> the decoded image and how the code was found."""
    if "code" in body:
        code = as_code(body["code"], state.latent_dim, state.code_limit)
        rule, used = "code given by the client", []
    elif "view" in body:
        view = as_view(state, body["view"])
        x, y = as_place(view, body)
        code, rule, rows = view.inverse.code(x, y, as_rule(view, body.get("rule")))
        used = view.index[rows].tolist()
    else:
        raise RequestError(400, "send {code: [...]} or {view, x, y}")
    img = decoded(state, code[None])[0]
    return {"image": image_uri(img), "rule": rule, "code": code.tolist(), "mixed_points": used}


def walk(state: ExploreState, body: dict, limits: Limits) -> dict:
    """{view, path: [[x, y], ...], steps} (a drawn path) or {a, b, steps} (two points, in latent space)."""
    steps = as_int(body.get("steps", 12), "steps", 2, limits.max_steps)
    if "path" in body:
        view = as_view(state, body.get("view"))
        path = _as_path(view, body["path"], limits.max_path_points)
        rule = as_rule(view, body.get("rule"))
        if rule == "umap" and steps > UMAP_WALK_STEPS:
            raise RequestError(400, f"a umap walk decodes at most {UMAP_WALK_STEPS} steps (each costs seconds)")
        where = _resample(path, steps)
        codes, rules = [], set()
        for x, y in where:
            code, words, _ = view.inverse.code(float(x), float(y), rule)
            codes.append(code)
            rules.add(words)
        codes, words = np.stack(codes), "; ".join(sorted(rules))
        extra = {"positions": where.round(5).tolist()}
    elif "a" in body and "b" in body:
        a, b = as_index(body["a"], state.n), as_index(body["b"], state.n)
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        codes = (1 - t) * state.codes[a] + t * state.codes[b]          # (steps, d): a straight line in latent space
        words = f"straight line in the latent space from point {a} to point {b}"
        extra = {"a": a, "b": b}
    else:
        raise RequestError(400, "send {view, path: [[x, y], ...]} or {a, b}")
    frames = decoded(state, codes)
    return {"rule": words, "steps": steps, "strip": image_uri(strip(frames)),
            "gif": data_uri(gif(frames), "image/gif"), **extra}


def _as_path(view, value, max_points: int) -> np.ndarray:
    if not isinstance(value, list) or not 2 <= len(value) <= max_points:
        raise RequestError(400, f"path must be a list of 2..{max_points} [x, y] pairs")
    (x0, x1), (y0, y1) = view.bounds
    out = []
    for p in value:
        if not isinstance(p, list) or len(p) != 2:
            raise RequestError(400, "every path entry must be an [x, y] pair")
        out.append([as_number(p[0], "path x", x0, x1), as_number(p[1], "path y", y0, y1)])
    return np.asarray(out, np.float64)


def _resample(path: np.ndarray, steps: int) -> np.ndarray:
    """`steps` positions evenly spaced by arc length along the polyline (its ends included)."""
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return np.repeat(path[:1], steps, axis=0)
    t = np.linspace(0.0, s[-1], steps)
    return np.column_stack([np.interp(t, s, path[:, 0]), np.interp(t, s, path[:, 1])])


def traverse(state: ExploreState, body: dict, limits: Limits) -> dict:
    """{index or code, dim or direction, values: [...]}: decode code + value * direction for each value."""
    limit = state.code_limit
    if "code" in body:
        base = as_code(body["code"], state.latent_dim, limit)
    elif "index" in body:
        base = state.codes[as_index(body["index"], state.n)]
    else:
        raise RequestError(400, "send index or code")
    if "direction" in body:
        direction = as_code(body["direction"], state.latent_dim, limit, "direction")
        words = "the given direction"
    else:
        basis = state.sliders
        dim = as_int(body.get("dim"), "dim", 0, len(basis["vectors"]) - 1)
        direction = np.asarray(basis["vectors"][dim], np.float32)
        words = basis["names"][dim]
    values = body.get("values")
    if not isinstance(values, list) or not 1 <= len(values) <= limits.max_steps:
        raise RequestError(400, f"values must be a list of 1..{limits.max_steps} numbers")
    vals = np.asarray([as_number(v, "every value", -limit, limit) for v in values], np.float32)
    frames = decoded(state, base[None] + vals[:, None] * direction[None])
    return {"direction": words, "values": vals.tolist(), "images": [image_uri(f) for f in frames],
            "strip": image_uri(strip(frames))}


def selection(state: ExploreState, body: dict) -> dict:
    """{indices: [...]}: counts per class, the mean image, and the decoded mean code."""
    idx = _as_indices(state, body.get("indices"))
    counts = np.bincount(state.labels[idx], minlength=len(state.class_names))
    mean_img = state.images[idx].astype(np.float32).mean(axis=0)
    mean_code = state.codes[idx].mean(axis=0)
    return {"n": len(idx), "counts": {n: int(c) for n, c in zip(state.class_names, counts)},
            "mean_image": image_uri((mean_img + 0.5).astype(np.uint8)),
            "decoded_mean": image_uri(decoded(state, mean_code[None])[0]),
            "mean_code": mean_code.tolist()}


def selection_csv(state: ExploreState, body: dict) -> str:
    idx = _as_indices(state, body.get("indices"))
    rows = ["index,split,label,class"]
    rows += [f"{i},{'train' if i < state.n_train else 'test'},{state.labels[i]},{_csv(state.class_names[state.labels[i]])}"
             for i in idx.tolist()]
    return "\n".join(rows) + "\n"


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _as_indices(state: ExploreState, value, keep_order: bool = False) -> np.ndarray:
    if not isinstance(value, list) or not 1 <= len(value) <= state.n:
        raise RequestError(400, f"indices must be a list of 1..{state.n} point indices")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RequestError(400, "indices must be integers")
    if not 0 <= min(value) <= max(value) < state.n:     # Python ints: 10**30 is refused, not an OverflowError
        raise RequestError(404, f"an index is out of range (0..{state.n - 1})")
    rows = np.asarray(value, np.int64)
    return rows if keep_order else np.unique(rows)
