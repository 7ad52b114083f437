"""What bounds a slow client or costly work, so that no client can tie the server up.

- connections: at most `Bounds.connections` open at once (uvicorn's `limit_concurrency`: the
  next request is answered 503); an idle keep-alive connection is closed after
  `Bounds.idle_seconds` (uvicorn's `timeout_keep_alive`);
- request headers: a connection must send a whole request head within `Bounds.header_seconds`
  of opening (or of its previous answer), else it is closed (`HeaderTimeoutProtocol`: uvicorn
  has no such timer, so a half-open connection would stay forever);
- work: `WorkQueue` counts the requests of one kind queued or running (the decoder runs one
  forward pass at a time) and refuses the next with 503 and a line saying why, instead of
  letting them pile up; umap's inverse (seconds each) has a queue of its own.
"""

from __future__ import annotations

from contextlib import contextmanager

from uvicorn.protocols.http.h11_impl import H11Protocol

from .security import Bounds, RequestError

__all__ = ["Bounds", "WorkQueue", "HeaderTimeoutProtocol", "protocol_with"]


class WorkQueue:
    """At most `most` requests of one kind queued or running. Used from the event loop only
    (the endpoint takes a slot before handing the work to a thread), so a plain counter is safe."""

    def __init__(self, what: str, most: int):
        self.what, self.most, self.n = what, most, 0

    @contextmanager
    def slot(self):
        if self.n >= self.most:
            raise RequestError(503, f"server busy: {self.most} {self.what} already queued or running; "
                                    "try again when they finish")
        self.n += 1
        try:
            yield
        finally:
            self.n -= 1


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head: armed when the connection
    opens and after every answer, it closes the connection if no new request has begun by then."""

    header_seconds = 10.0

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        self._arm()
        super().on_response_complete()

    def _arm(self) -> None:
        waiting_after = self.cycle                 # a new request replaces self.cycle
        old = getattr(self, "_header_timer", None)
        if old is not None:
            old.cancel()

        def expire():
            if self.cycle is waiting_after and not self.transport.is_closing():
                self.transport.close()

        self._header_timer = self.loop.call_later(self.header_seconds, expire)

    def connection_lost(self, exc) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(exc)


def protocol_with(header_seconds: float) -> type:
    """A HeaderTimeoutProtocol subclass with its own deadline (uvicorn instantiates the class)."""
    return type("ExploreProtocol", (HeaderTimeoutProtocol,), {"header_seconds": float(header_seconds)})
