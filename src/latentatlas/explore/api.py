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
from .security import Limits, RequestError
from .state import VIEW_TITLES, ExploreState, gif, png, strip


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


def as_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(400, f"{name} must be a number")
    if not math.isfinite(value):
        raise RequestError(400, f"{name} must be finite")
    return float(value)


def as_code(value, d: int) -> np.ndarray:
    if not isinstance(value, list):
        raise RequestError(400, f"code must be a list of {d} numbers")
    if len(value) != d:
        raise RequestError(400, f"code has {len(value)} numbers; this latent has {d}")
    return np.asarray([as_number(v, "every code entry") for v in value], np.float32)


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
    views = [{"name": v.name, "title": VIEW_TITLES[v.name], "n_points": len(v.index),
              "rules": v.inverse.rules, "rule": v.inverse.describe(v.inverse.rules[0]), "source": v.source}
             for v in state.views.values()]
    h, w = state.images.shape[1:3]
    return {"run": state.run.path.name, "dataset": state.dataset, "kind": state.kind,
            "latent_dim": state.latent_dim, "n_points": state.n, "n_train": state.n_train,
            "n_test": state.n - state.n_train, "image_size": [int(h), int(w)],
            "class_names": state.class_names, "class_counts": counts, "views": views,
            "colourings": colourings, "probe": {"words": state.probe_words, "test_accuracy": state.probe_accuracy},
            "sliders": state.sliders,
            "limits": {"max_path_points": limits.max_path_points, "max_steps": limits.max_steps,
                       "max_body": limits.max_body, "max_neighbours": limits.max_neighbours}}


def points(state: ExploreState, view_name) -> dict:
    view = as_view(state, view_name)
    idx = view.index
    out = {"view": view.name, "n": len(idx), "x": _rounded(view.xy[:, 0]), "y": _rounded(view.xy[:, 1]),
           "index": idx.tolist(), "label": state.labels[idx].tolist(),
           "cluster": state.colourings["cluster"][idx].tolist(),
           "probe_pred": state.colourings["probe_pred"][idx].tolist(),
           "probe_error": (state.colourings["probe_pred"][idx] != state.labels[idx]).astype(int).tolist()}
    if "variance" in state.colourings:
        out["variance"] = _rounded(state.colourings["variance"][idx])
    for name in state.factors:
        out[f"factor_{name}"] = _rounded(state.colourings[f"factor_{name}"][idx])
    return out


def _rounded(a: np.ndarray) -> list:
    """Floats with 5 significant digits: a third of the JSON, no visible difference on a map."""
    return [float(f"{v:.5g}") for v in np.asarray(a, np.float64)]


def image(state: ExploreState, index: str) -> bytes:
    return png(state.images[as_index(index, state.n)])


def point(state: ExploreState, index: str, k_value) -> dict:
    i = as_index(index, state.n)
    k = 8 if k_value is None else as_query_int(k_value, "k", 1, 32)
    rows, dist = state.neighbours(i, k)
    recon = state.decode(state.codes[i][None])[0]
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
        code = as_code(body["code"], state.latent_dim)
        rule, used = "code given by the client", []
    elif "view" in body:
        view = as_view(state, body["view"])
        x, y = as_number(body.get("x"), "x"), as_number(body.get("y"), "y")
        code, rule, rows = view.inverse.code(x, y, as_rule(view, body.get("rule")))
        used = view.index[rows].tolist()
    else:
        raise RequestError(400, "send {code: [...]} or {view, x, y}")
    img = state.decode(code[None])[0]
    return {"image": image_uri(img), "rule": rule, "code": code.tolist(), "mixed_points": used}


def walk(state: ExploreState, body: dict, limits: Limits) -> dict:
    """{view, path: [[x, y], ...], steps} (a drawn path) or {a, b, steps} (two points, in latent space)."""
    steps = as_int(body.get("steps", 12), "steps", 2, limits.max_steps)
    if "path" in body:
        view = as_view(state, body.get("view"))
        path = _as_path(body["path"], limits.max_path_points)
        rule = as_rule(view, body.get("rule"))
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
    frames = state.decode(codes)
    return {"rule": words, "steps": steps, "strip": image_uri(strip(frames)),
            "gif": data_uri(gif(frames), "image/gif"), **extra}


def _as_path(value, max_points: int) -> np.ndarray:
    if not isinstance(value, list) or not 2 <= len(value) <= max_points:
        raise RequestError(400, f"path must be a list of 2..{max_points} [x, y] pairs")
    out = []
    for p in value:
        if not isinstance(p, list) or len(p) != 2:
            raise RequestError(400, "every path entry must be an [x, y] pair")
        out.append([as_number(p[0], "path x"), as_number(p[1], "path y")])
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
    if "code" in body:
        base = as_code(body["code"], state.latent_dim)
    elif "index" in body:
        base = state.codes[as_index(body["index"], state.n)]
    else:
        raise RequestError(400, "send index or code")
    if "direction" in body:
        direction = as_code(body["direction"], state.latent_dim)
        words = "the given direction"
    else:
        basis = state.sliders
        dim = as_int(body.get("dim"), "dim", 0, len(basis["vectors"]) - 1)
        direction = np.asarray(basis["vectors"][dim], np.float32)
        words = basis["names"][dim]
    values = body.get("values")
    if not isinstance(values, list) or not 1 <= len(values) <= limits.max_steps:
        raise RequestError(400, f"values must be a list of 1..{limits.max_steps} numbers")
    vals = np.asarray([as_number(v, "every value") for v in values], np.float32)
    frames = state.decode(base[None] + vals[:, None] * direction[None])
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
            "decoded_mean": image_uri(state.decode(mean_code[None])[0]),
            "mean_code": mean_code.tolist()}


def selection_csv(state: ExploreState, body: dict) -> str:
    idx = _as_indices(state, body.get("indices"))
    rows = ["index,split,label,class"]
    rows += [f"{i},{'train' if i < state.n_train else 'test'},{state.labels[i]},{_csv(state.class_names[state.labels[i]])}"
             for i in idx.tolist()]
    return "\n".join(rows) + "\n"


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def _as_indices(state: ExploreState, value) -> np.ndarray:
    if not isinstance(value, list) or not 1 <= len(value) <= state.n:
        raise RequestError(400, f"indices must be a list of 1..{state.n} point indices")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise RequestError(400, "indices must be integers")
    idx = np.asarray(value, np.int64)
    if idx.min() < 0 or idx.max() >= state.n:
        raise RequestError(404, f"an index is out of range (0..{state.n - 1})")
    return np.unique(idx)
