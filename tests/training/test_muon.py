"""training/muon.py: the Newton-Schulz orthogonalisation and the Muon + Adam split."""

import pytest
import torch
from torch import nn

from latentatlas.models.conv import ConvAE
from latentatlas.training.muon import MuonAdam, orthogonalize


@pytest.mark.parametrize("shape", [(64, 16), (16, 64), (7, 256)])
def test_orthogonalize_flattens_the_spectrum(shape):
    """Five steps of Jordan's quintic map singular values spread over a factor of 100 into
    about [0.7, 1.2] (it trades exactness for speed); the singular vectors stay the input's."""
    g = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(shape[0], min(shape), generator=g))
    v, _ = torch.linalg.qr(torch.randn(shape[1], min(shape), generator=g))
    s = torch.logspace(-1, 1, min(shape))                  # condition number 100
    m = u @ torch.diag(s) @ v.T
    o = orthogonalize(m).float()
    sv = torch.linalg.svdvals(o)
    assert o.shape == m.shape
    assert sv.min() > 0.6 and sv.max() < 1.25, sv
    # U V^T up to the per-direction scale: the projection onto the input's singular directions.
    assert torch.allclose(u.T @ o @ v, torch.diag(torch.diag(u.T @ o @ v)), atol=0.05)


def test_matrices_and_kernels_go_to_muon_the_rest_to_adam():
    net = ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=32)
    opt = MuonAdam(net.parameters(), lr=1e-3)
    muon = {id(p) for g in opt.param_groups if g["use_muon"] for p in g["params"]}
    for name, p in net.named_parameters():
        assert (id(p) in muon) == (p.ndim >= 2), name
    assert any(p.ndim == 4 for g in opt.param_groups if g["use_muon"] for p in g["params"])


def test_muon_fits_a_linear_map_faster_than_it_starts():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
    x = torch.randn(512, 20)
    y = x @ torch.randn(20, 5)
    opt = MuonAdam(net.parameters(), lr=1e-2)
    first = None
    for _ in range(200):
        loss = ((net(x) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    # Every parameter moved, 1-D ones (Adam) included, and Adam's state is where torch keeps it.
    assert all("momentum_buffer" in opt.state[p] or "exp_avg" in opt.state[p] for p in net.parameters())
    assert opt.state[net[0].bias]["step"].item() == 200
