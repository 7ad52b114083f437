"""Latent-space tools: encode, project, probe, cluster (and sample, interpolate, generate).

Import the submodule you need (`latentatlas.latent.project`, ...); this package
imports nothing so that `latentatlas --help` stays fast.
"""
