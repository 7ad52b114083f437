"""The trials on Ray Tune: where Ray runs, what each trial may use, and the run itself.

    with ray_session(address=None) as info:        # local Ray on every core, or a cluster
        records = tune_trials(specs, sweep_dir, cpus=1, gpus=0.25)

Ray places, runs and reports the trials (one `tune.Tuner` over the pending ones, a grid over
their names); nothing here queues or pools work of its own. Locally Ray starts with every core
this process may use (CPU affinity, cgroup quota) and the GPUs it finds; `--address` (or
RAY_ADDRESS) joins a cluster, after a quick check that the address answers at all, so a wrong
one is one line in seconds instead of Ray's minutes of retries.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time

from ..errors import UserError
from .folder import TUNE_DIR, SweepFolder
from .trial import one_line, record_of

REACH_TIMEOUT_S = 3.0


def _host_port(address: str) -> tuple[str, int] | None:
    """ "ray://head:10001" or "10.0.0.1:6379" -> (host, port); None for "auto" / "local"."""
    text = address.strip()
    if text in ("auto", "local", ""):
        return None
    text = text.split("://", 1)[-1].rstrip("/")
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        raise UserError(f"--address {address!r}: give HOST:PORT (the head's GCS, e.g. 10.0.0.1:6379) or "
                        "ray://HOST:PORT (Ray Client, e.g. ray://head:10001)")
    return host.strip("[]") or "127.0.0.1", int(port)


# An HTTP/2 client preface and an empty SETTINGS frame: a gRPC server (Ray's GCS, Ray Client)
# answers with a SETTINGS frame of its own at once; a port that accepts and says nothing is no Ray.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def check_reachable(address: str, timeout: float = REACH_TIMEOUT_S) -> None:
    """UserError in seconds when nothing answers at the head's address as a gRPC server would."""
    where = _host_port(address)
    if where is None:
        return
    try:
        with socket.create_connection(where, timeout=timeout) as sock:
            sock.sendall(_H2_PREFACE)
            answer = sock.recv(9)
        reason = None if len(answer) == 9 and answer[3] == 4 else "it answers, but not as a Ray head does"
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
    if reason is None:
        reason = _client_answer(where) if address.startswith("ray://") else _gcs_answer(address)
    if reason:
        raise UserError(f"cannot reach the Ray cluster at {address} ({reason}); start its head with "
                        "`ray start --head`, or check --address / RAY_ADDRESS")


@contextlib.contextmanager
def _quiet_stderr():
    """Ray's C++ client logs each failed try to file descriptor 2: keep the one line ours."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _client_answer(where: tuple[str, int], timeout: float = REACH_TIMEOUT_S) -> str | None:
    """None when a Ray Client server answers a PING at ray://HOST:PORT, else why not."""
    try:
        import grpc
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc
    except ImportError:
        return None
    channel = grpc.insecure_channel(f"{where[0]}:{where[1]}")
    try:
        request = ray_client_pb2.ClusterInfoRequest(type=ray_client_pb2.ClusterInfoType.PING)
        ray_client_pb2_grpc.RayletDriverStub(channel).ClusterInfo(request, timeout=timeout)
    except grpc.RpcError as exc:
        return f"no Ray Client server answers there: {exc.code().name}"
    finally:
        channel.close()
    return None


def _gcs_answer(address: str) -> str | None:
    """None when a Ray GCS answers at HOST:PORT (one request of Ray's own client), else why not.
    A gRPC server that is not Ray (a proxy, another service) answers in a second with an error."""
    try:
        from ray._raylet import GcsClient
    except ImportError:
        return None                        # no Ray here: _import_ray says so next
    try:
        with _quiet_stderr():
            GcsClient(address=address, cluster_id=None)
    except Exception as exc:               # noqa: BLE001 - Ray's RpcError and the like
        return f"no Ray head answers there: {one_line(exc)}"
    return None


def _import_ray():
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError:
        raise UserError("latentatlas sweep needs Ray Tune: pip install 'latentatlas[sweep]' "
                        "(or pip install 'ray[tune]')") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, quiet: bool = False):
    """Ray connected for the block: a Ray already started in this process (a notebook), the
    cluster at `address` / RAY_ADDRESS, or a local one on every usable core. Yields
    {"address", "cpus", "gpus", "nodes", "start_seconds", "ready_at"} (epoch seconds), with
    "stop_seconds" added on leaving; shuts down only what it started."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)
    ray = _import_ray()
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")   # no CSV/TensorBoard files per trial
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    started = not ray.is_initialized()
    t0 = time.perf_counter()
    if started:
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": True,
                  "logging_level": "ERROR"}
        if address:
            try:
                ray.init(address=address, **kwargs)
            except ConnectionError as exc:
                raise UserError(f"cannot join the Ray cluster at {address} ({one_line(exc)}); "
                                "check --address / RAY_ADDRESS") from None
        else:
            from ..runtime import usable_cores

            # Tune's trial actors carry a runtime env of their own, so the workers Ray prestarts for
            # the driver are never theirs: they would only take the cores while the trials' start
            os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
            ray.init(num_cpus=usable_cores(), **kwargs)
    info: dict = {"address": address or "local"}
    try:
        res = ray.cluster_resources()
        info.update(cpus=float(res.get("CPU", 0)), gpus=float(res.get("GPU", 0)),
                    nodes=len([n for n in ray.nodes() if n.get("Alive")]),
                    start_seconds=round(time.perf_counter() - t0, 3), ready_at=time.time())
        yield info
    finally:
        if started:
            t1 = time.perf_counter()
            ray.shutdown()
            info["stop_seconds"] = round(time.perf_counter() - t1, 3)


def check_resources(info: dict, cpus: float, gpus: float) -> None:
    """A trial asking for more than the whole of Ray would wait forever: refuse it in one line."""
    if not cpus > 0:
        raise UserError(f"--cpus-per-trial {cpus}: give a positive number of cores (fractions allowed)")
    if gpus < 0:
        raise UserError(f"--gpus-per-trial {gpus}: give 0 or a positive share of a GPU (e.g. 0.25)")
    if cpus > info["cpus"]:
        raise UserError(f"--cpus-per-trial {cpus:g}: Ray has only {info['cpus']:g} CPUs ({info['address']}); "
                        f"ask for {info['cpus']:g} or fewer")
    if gpus > info["gpus"]:
        have = f"only {info['gpus']:g} GPUs" if info["gpus"] else "no GPU"
        raise UserError(f"--gpus-per-trial {gpus:g}: Ray has {have} ({info['address']}); "
                        "leave it out to train on the CPU")


def _callback(total: int, quiet: bool):
    from ray.tune import Callback

    class Progress(Callback):
        """One line per trial that ends: the driver's only output while the trials run."""
        done = 0

        def _say(self, trial, text):
            Progress.done += 1
            if not quiet:
                print(f"sweep: [{Progress.done}/{total}] {self._name(trial)}: {text}",
                      file=sys.stderr, flush=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            result = trial.last_result or {}
            if result.get("status") == "failed":
                self._say(trial, f"failed: {result.get('error')}")
            elif result.get("status") == "stopped":
                self._say(trial, result.get("note") or "stopped early")
            elif "status" not in result and "epoch" in result:     # its last word an epoch's: stopped
                self._say(trial, f"stopped early after epoch {result['epoch']}")
            else:
                self._say(trial, f"ok in {result.get('seconds', 0):.1f} s")

        def on_trial_error(self, iteration, trials, trial, **info):
            self._say(trial, "failed (the worker died; see the sweep report)")

        def _name(self, trial):
            return (trial.last_result or {}).get("trial") or trial.config.get("trial")

    return Progress()


def _search(search: str | None, grid: dict | None, specs: dict, samples: int) -> dict:
    """What Tune samples: a grid over the names of the pending trials, or (--search optuna) a
    choice per swept key for Tune's Optuna searcher, minimising the test loss, `samples` trials."""
    from ray import tune

    if not search:
        return {"param_space": {"trial": tune.grid_search(list(specs))}, "keys": (), "tune": {}}
    if search != "optuna":
        raise UserError(f"--search {search!r}: the searchers are optuna (or leave it out for the whole grid)")
    try:
        import optuna
        from ray.tune.search.optuna import OptunaSearch
    except ImportError:
        raise UserError("--search optuna needs Optuna: pip install optuna") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {k: tune.choice(list(v)) for k, v in grid.items()}
    return {"param_space": space, "keys": tuple(grid),
            "tune": {"search_alg": OptunaSearch(metric="test_loss", mode="min", seed=0), "num_samples": samples}}


def tune_trials(specs: dict, sweep_dir, cpus: float = 1.0, gpus: float = 0.0, quiet: bool = False,
                search: str | None = None, grid: dict | None = None, samples: int = 0,
                scheduler: str | None = None) -> dict:
    """Run the trials `specs` ({name: spec}) on Ray Tune (all of them, or those a searcher picks
    from `grid`; --scheduler asha stops the worse ones early); {name: record} for each, written
    also for a trial whose worker died or that the scheduler stopped before it wrote its own."""
    from ray import tune

    from .early import make_scheduler
    from .trial import run_trial

    folder = SweepFolder(sweep_dir)
    how = _search(search, grid, specs, samples)
    how["tune"]["scheduler"] = make_scheduler(scheduler, specs)
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, specs=specs, sweep_dir=str(folder.path.resolve()), keys=how["keys"]),
        {"cpu": cpus, "gpu": gpus})
    tuner = tune.Tuner(
        trainable, param_space=how["param_space"],
        tune_config=tune.TuneConfig(reuse_actors=True, **how["tune"]),   # one worker per slot: imports paid once
        run_config=tune.RunConfig(
            name=time.strftime("sweep-%Y%m%d-%H%M%S"), storage_path=str((folder.path / TUNE_DIR).resolve()),
            verbose=0, callbacks=[_callback(samples or len(specs), quiet)],
            failure_config=tune.FailureConfig(max_failures=0)))
    records = {}
    for result in tuner.fit():
        config = result.config or {}
        name = (result.metrics or {}).get("trial") or config.get("trial")
        if name is None and how["keys"] and all(k in config for k in how["keys"]):
            from .grid import trial_name

            name = trial_name({k: config[k] for k in how["keys"]})
        if name is None or name not in specs:
            continue
        records[name] = _driver_record(folder, specs[name], result)
    return records


def _driver_record(folder: SweepFolder, spec: dict, result) -> dict | None:
    """The trial's record; the driver writes it where the worker could not: its worker died (failed),
    or the scheduler stopped it and the worker has not written its own yet (stopped)."""
    from .early import TrialStopped

    record = folder.read_record(spec["name"])
    if record and record.get("config_hash") == spec["config_hash"]:
        return record
    metrics = result.metrics or {}
    if result.error is not None:
        record = record_of(spec, "failed", 0.0, one_line(result.error))
    elif "status" not in metrics and "epoch" in metrics:     # its last result an epoch's: stopped there
        note = TrialStopped(int(metrics["epoch"]), metrics.get("test_loss")).note()
        record = record_of(spec, "stopped", float(metrics.get("time_total_s") or 0.0), note=note)
    else:
        return record
    folder.write_record(spec["name"], record)
    return record
