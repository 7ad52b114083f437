"""The multi-machine path on one machine: a 2-node Ray cluster (ray.cluster_utils.Cluster, one CPU
per node, each node a raylet of its own as a second machine would be), a sweep of two tiny trials
joined to it through its address, and the report over the trials of both nodes."""

import json

import pytest
from cache_helpers import session_cache_dir
from sweep_helpers import TINY, ray_env, report_links

pytest.importorskip("ray.tune")

from latentatlas.sweeps import SWEEP_REPORT, SweepFolder, run_sweep, sweep_spec  # noqa: E402


def test_a_sweep_on_a_two_node_cluster_runs_trials_on_both_and_the_report_gathers_them(tmp_path_factory):
    from ray.cluster_utils import Cluster

    out = tmp_path_factory.mktemp("cluster") / "sw"
    with pytest.MonkeyPatch.context() as mp, ray_env(mp, session_cache_dir(tmp_path_factory)):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            address = cluster.address
            # two trials of one CPU each on two nodes of one CPU: Tune places them side by side
            summary = run_sweep(out, sweep_spec({"model.latent_dim": [2, 3]}), preset="default-vae",
                                tables=[TINY], cpus_per_trial=1, address=address, quiet=True)
            nodes = {n.node_id for n in cluster.list_all_nodes()}
        finally:
            cluster.shutdown()
    assert summary["trials"] == {"latent_dim=2": "ok", "latent_dim=3": "ok"}
    records = [SweepFolder(out).read_record(n) for n in summary["trials"]]
    assert {r["node"] for r in records} == nodes and len(nodes) == 2          # one trial on each node
    sweep = json.loads((out / "sweep.json").read_text())
    assert sweep["ray"]["nodes"] == 2 and sweep["ray"]["cpus"] == 2 and sweep["ray"]["address"] == address
    html = (out / SWEEP_REPORT).read_text()
    assert report_links(html, summary["trials"]) == list(summary["trials"])
