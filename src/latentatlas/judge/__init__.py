"""The independent judge of generated images.

    classifier   the CNN trained on a dataset's pixels (never on latent codes), its cache
                 and its training: load_or_train_judge(dataset) -> Judge
    frechet      feature statistics and the Frechet distance between two Gaussians
    section      judge_section(ctx, cfg): the judge's verdict on a run's samplers, written
                 to metrics.json "judge" with its figures; label_report (fidelity)
"""
