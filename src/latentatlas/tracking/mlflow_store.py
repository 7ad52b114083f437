"""Where MLflow writes, whether it can, and how a user opens what was written.

    $MLFLOW_TRACKING_URI          as the user names it: http(s)://HOST:PORT (`mlflow server`),
                                  sqlite:///PATH, postgresql://..., file:///PATH (the folder store)
    (unset)                       sqlite:///<working folder>/mlflow.db: MLflow 3 has put the
                                  folder store ./mlruns in maintenance mode and advises a database

Failures are one line (UserError): a package missing, a server that does not answer within
seconds (MLflow's own default is 7 retries with backoff, minutes), a store that refuses the write.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import UserError
from .base import one_line

INSTALL = "the mlflow package is not installed; pip install 'latentatlas[mlflow]'"
SQLITE_INSTALL = ("the SQLite store needs the full mlflow package (mlflow-skinny lacks SQLAlchemy): "
                  "pip install 'latentatlas[mlflow]', or set MLFLOW_TRACKING_URI to a tracking server")
DEFAULT_DB = "mlflow.db"
CONNECT_SECONDS = 3.0
# A server that stops answering mid-run: a few quick tries, not minutes of them (users may override).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "15"}


def import_mlflow():
    try:
        import mlflow
        from mlflow.tracking import MlflowClient  # noqa: F401
    except ImportError:
        raise UserError(INSTALL) from None
    return mlflow


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else the SQLite store mlflow.db in the working folder (absolute, so
    the URI recorded in RUN/tracking.json and the `mlflow ui` line work from any folder)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///" + str(Path(DEFAULT_DB).resolve())
    if is_file_store(uri):
        # MLflow 3 keeps its folder store behind this switch; naming the store is asking for it.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


def is_file_store(uri: str) -> bool:
    return uri.startswith("file:") or "://" not in uri


def check_answers(uri: str, timeout: float = CONNECT_SECONDS) -> None:
    """A tracking server must take a connection within seconds; then MLflow retries briefly."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    import socket

    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"the tracking server {uri} does not answer ({exc.strerror or exc}); start it "
                        "(`mlflow server --host 127.0.0.1 --port PORT`) or unset MLFLOW_TRACKING_URI") from None
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def quiet():
    """MLflow's INFO lines (creating the database's tables, alembic's migrations) and its
    serving-example warning are not the user's business during an export: errors still show."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


@contextlib.contextmanager
def store_errors(uri: str):
    """Anything MLflow raises while writing, as one line naming the store."""
    try:
        yield
    except UserError:
        raise
    except ImportError as exc:
        if uri.startswith(("sqlite:", "postgresql", "mysql", "mssql")):
            raise UserError(SQLITE_INSTALL) from None
        raise UserError(f"MLflow could not write to {uri}: {one_line(exc)}") from None
    except Exception as exc:
        raise UserError(f"MLflow could not write to {uri}: {one_line(exc)}") from None


def how_to_open(uri: str, experiment_id: str, run_id: str) -> str:
    """The one line that opens what was written, with the MLflow that is installed."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return f"open {uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    if is_file_store(uri):
        return f"view with `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {uri}`"
    return f"view with `mlflow ui --backend-store-uri {uri}`"
