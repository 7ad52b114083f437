"""The multi-machine path, on one machine: a 2-node Ray cluster (ray.cluster_utils.Cluster, one CPU
per node), a tiny sweep joined to it through --address, and which node ran each trial.

    python benchmarks/check_sweep_cluster.py            # exit 0 when the trials ran on both nodes

Each node is a raylet of its own, as a second machine would be; the sweep folder is on the one
file system they share (on real machines: a shared file system). Prints each trial's node and
whether the report gathered every trial.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from ray.cluster_utils import Cluster

    from bench_sweep import tables
    from latentatlas.sweeps import SweepFolder, run_sweep, sweep_spec

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        with tempfile.TemporaryDirectory(prefix="sweep-cluster-") as tmp:
            out = Path(tmp) / "sweep"
            summary = run_sweep(out, sweep_spec({"model.latent_dim": [2, 3, 4, 5]}), preset=None,
                                tables=[tables(300, 1)], cpus_per_trial=1, address=cluster.address)
            folder = SweepFolder(out)
            nodes = {}
            for name in summary["trials"]:
                record = folder.read_record(name)
                nodes[name] = record["node"]
                print(f"{name:<16} {record['status']:<7} node {record['node'][:12]}")
            html = (out / "sweep.html").read_text()
            gathered = all(f'trials/{n.replace("=", "%3D")}/report.html' in html for n in nodes)
    finally:
        cluster.shutdown()
    both = len(set(nodes.values())) == 2
    print(f"nodes used: {len(set(nodes.values()))} of 2; the report links every trial: {gathered}")
    return 0 if both and gathered else 1


if __name__ == "__main__":
    raise SystemExit(main())
