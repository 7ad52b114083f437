"""The page's files, ready to send: each under a name holding a hash of its bytes, gzipped once.

    assets = Assets.build()
    assets.get("plotly.min.3f2a9c0d1e4b.js") -> Asset (bytes, gzip bytes, media type, immutable)

The page (index.html, never cached: the token guards it) names its script and style by their
hashed names, so that the browser keeps them for a year (`immutable`): a new version of a file
has a new name. plotly.min.js (4.8 MB) travels gzipped (about 1.4 MB). The plain names
(`static/explore.js`) still answer, with `no-cache`, for anyone who types them.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}
PAGE_FILES = ("index.html", "explore.js", "selection.js", "sprites.js", "share.js", "explore.css")
IMMUTABLE = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    data: bytes
    gz: bytes
    mime: str
    cache: str                     # the cache-control header


def _hashed(name: str, data: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:12]}{dot}{ext}"


def _asset(name: str, data: bytes, cache: str) -> Asset:
    return Asset(data, gzip.compress(data, compresslevel=6, mtime=0), MEDIA["." + name.rpartition(".")[2]], cache)


@dataclass
class Assets:
    files: dict                    # name (plain or hashed) -> Asset

    @classmethod
    @lru_cache(maxsize=1)
    def build(cls) -> Assets:
        """Once per process (0.5 s, gzip of plotly.js): the files never change while it runs."""
        from plotly.offline import get_plotlyjs

        folder = resources.files("latentatlas.explore") / "static"
        raw = {name: (folder / name).read_bytes() for name in PAGE_FILES}
        raw["plotly.min.js"] = get_plotlyjs().encode("utf-8")
        page = raw.pop("index.html").decode("utf-8")
        files = {}
        for name, data in raw.items():
            hashed = _hashed(name, data)
            page = page.replace(f'"static/{name}"', f'"static/{hashed}"')
            files[hashed] = _asset(name, data, IMMUTABLE)
            files[name] = replace(files[hashed], cache="no-cache")
        files["index.html"] = _asset("index.html", page.encode("utf-8"), "no-store")
        return cls(files)

    def get(self, name: str) -> Asset | None:
        return self.files.get(name)

    def response(self, name: str, accept_encoding: str, extra_headers: dict):
        """The Starlette Response for `name` (gzipped when the client accepts it), or None."""
        from starlette.responses import Response

        asset = self.files.get(name)
        if asset is None:
            return None
        headers = {**extra_headers, "cache-control": asset.cache, "vary": "accept-encoding"}
        if "gzip" in accept_encoding.lower():
            return Response(asset.gz, media_type=asset.mime, headers={**headers, "content-encoding": "gzip"})
        return Response(asset.data, media_type=asset.mime, headers=headers)
