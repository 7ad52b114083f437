"""What the generation commands (`sample`, `judge`) share: their settings, resolved from the
run's [generate] table and the options, and the judge's verdict printed as a few lines."""

from __future__ import annotations


def generate_config_from_args(args, base: dict | None = None):
    """GenerateConfig: dataclass defaults < `base` (a preset's or run's [generate] table) < options given."""
    from ..settings import resolve_sections

    return resolve_sections(("generate",), {"generate": dict(base or {})}, args=args)["generate"]



def print_judge(section: dict) -> None:
    """The judge section as a few readable lines."""
    j = section["judge"]
    if j.get("graded") is False:
        print(f"judge: none: {j['reason']}")
        return
    how = "cached" if j.get("cached") else f"trained in {j.get('train_seconds')} s"
    print(f"judge: test accuracy {j['test_accuracy']:.4f} ({how}; {j['dataset_key']})")
    if j.get("verdict"):
        print(f"  {j['verdict']}")
    n = section["n_per_sampler"]
    print(f"Frechet distance to {section['fd_real_test_n']} real test images, {n} images each (lower is better):")
    print(f"  {'real train images (floor)':32s} FD {section['fd_floor_train_vs_test']:8.3f}")
    rec = section["reconstruction"]
    print(f"  {'reconstructions of train images':32s} FD {rec['fd']:8.3f}   judge accuracy {rec['accuracy']:.3f}")
    for name, rep in section["samplers"].items():
        fid = f"   fidelity {rep['fidelity']:.3f}" if rep.get("fidelity") is not None else ""
        top = max(rep["label_histogram"], key=rep["label_histogram"].get)
        print(f"  {rep['description']:32s} FD {rep['fd']:8.3f}{fid}   most common label {top!r} "
              f"({rep['top_label_share']:.0%})")
        hist = "  ".join(f"{c}:{k}" for c, k in rep["label_histogram"].items())
        print(f"    judge's labels      {hist}")
        per = rep.get("per_class")
        if per and name == "class-gaussian":
            cells = "  ".join(f"{c}: {v['fidelity']:.2f}" for c, v in per.items())
            print(f"    fidelity per class  {cells}")
