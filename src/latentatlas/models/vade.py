"""ConvVaDE: a VAE whose prior is a learned Gaussian mixture (VaDE).

Jiang, Zheng, Tan, Tang & Zhou, "Variational Deep Embedding: An Unsupervised and
Generative Approach to Clustering", IJCAI 2017. The generative story is
c ~ Cat(pi), z | c ~ N(mu_c, diag sigma_c^2), x | z ~ Bernoulli(decoder(z)); the
posterior q(z, c | x) = q(z | x) q(c | x) with q(c | x) taken as p(c | z) (their
eq. 16). The ELBO is then reconstruction + KL(q(z, c | x) || p(z, c)), see
`losses.vade_kl`.

Why a mixture prior: with an N(0, I) prior the codes of different classes are
pulled towards one blob, and a Gaussian mixture fitted afterwards may prefer a
split that cuts a class in two (study 003's 2-d codes did so on 1 seed in 3). Here
the mixture is part of the model, so training shapes each cluster into a Gaussian.

Training, as in the paper: the network first trains as a plain VAE for
`pretrain_epochs`; at the start of the next epoch a diagonal Gaussian mixture is
fitted (scikit-learn, seeded) to the posterior means of the training images and
becomes the prior's initial value; from then on the mixture's weights, means and
variances are learned with the network by gradient descent.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv import ConvVAE
from .losses import loss_function, mixture_log_responsibilities, vade_kl


class ConvVaDE(ConvVAE):
    """ConvVAE with a learned K-component diagonal Gaussian mixture prior."""

    name = "vade"

    def __init__(self, latent_dim: int = 10, image_size=(28, 28), in_channels: int = 1,
                 channels=None, hidden_dim: int = 256, batch_norm: bool = True,
                 activation: str = "relu", final_conv: bool = False, loss: str = "bce", beta: float = 1.0,
                 convs_per_stage: int = 1, n_components: int = 10, pretrain_epochs: int = 2):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         channels=channels, hidden_dim=hidden_dim, batch_norm=batch_norm,
                         activation=activation, final_conv=final_conv, loss=loss, beta=beta,
                         convs_per_stage=convs_per_stage)
        k, d = int(n_components), self.latent_dim
        if k < 2:
            raise ValueError(f"n_components must be at least 2, got {n_components}")
        if int(pretrain_epochs) < 0:
            raise ValueError(f"pretrain_epochs must be >= 0, got {pretrain_epochs}")
        self.n_components, self.pretrain_epochs = k, int(pretrain_epochs)
        self._config.update(n_components=k, pretrain_epochs=self.pretrain_epochs)
        self.prior_logits = nn.Parameter(torch.zeros(k))             # pi = softmax(logits), (K,)
        self.prior_mu = nn.Parameter(torch.zeros(k, d))               # (K, d)
        self.prior_logvar = nn.Parameter(torch.zeros(k, d))           # (K, d)
        # 1 once the mixture has been fitted to the codes; saved with the weights so that
        # a resumed run knows which phase it is in.
        self.register_buffer("prior_fitted", torch.zeros((), dtype=torch.float32))

    # -- the objective -------------------------------------------------------------------
    def loss_function(self, x: torch.Tensor, out: dict) -> dict:
        if not bool(self.prior_fitted):
            parts = super().loss_function(x, out)
            # The mixture takes no part yet; a zero-weighted term keeps it in the graph so that
            # DistributedDataParallel sees a gradient for every parameter at every step.
            tie = 0.0 * (self.prior_logits.sum() + self.prior_mu.sum() + self.prior_logvar.sum())
            parts["loss"] = parts["loss"] + tie
            return parts
        kl = vade_kl(out["z"], out["mu"], out["logvar"], self.prior_logits, self.prior_mu, self.prior_logvar)
        return loss_function(out["logits"], x, out["mu"], out["logvar"], recon=self.loss, beta=self.beta, kl=kl)

    # -- the mixture ---------------------------------------------------------------------
    def cluster_probabilities(self, z: torch.Tensor) -> torch.Tensor:
        """p(c | z) under the learned prior, (B, K): VaDE's q(c | x) when z is the posterior mean."""
        return mixture_log_responsibilities(z, self.prior_logits, self.prior_mu, self.prior_logvar).exp()

    def prior_parameters(self) -> dict:
        """The mixture as numpy arrays: weights (K,), means (K, d), variances (K, d)."""
        with torch.no_grad():
            return {"weights": torch.softmax(self.prior_logits, 0).cpu().numpy(),
                    "means": self.prior_mu.cpu().numpy(),
                    "variances": self.prior_logvar.exp().cpu().numpy()}

    def begin_epoch(self, epoch: int, x_train: torch.Tensor, seed: int = 0) -> str | None:
        """Called by the training loop before each epoch: after the pretraining epochs, fit
        the mixture to the codes once. x_train: (N, C, H, W) uint8. Returns a message or None."""
        if bool(self.prior_fitted) or epoch <= self.pretrain_epochs:
            return None
        from sklearn.mixture import GaussianMixture

        was_training = self.training
        self.eval()
        with torch.no_grad():
            z = torch.cat([self.embed(x_train[i:i + 1000].float().div_(255))
                           for i in range(0, len(x_train), 1000)]).float().cpu().numpy()
        self.train(was_training)
        gmm = GaussianMixture(self.n_components, covariance_type="diag", n_init=5, random_state=seed,
                              reg_covar=1e-4).fit(z)
        with torch.no_grad():
            dev = self.prior_mu.device
            self.prior_logits.copy_(torch.as_tensor(gmm.weights_, dtype=torch.float32).log().to(dev))
            self.prior_mu.copy_(torch.as_tensor(gmm.means_, dtype=torch.float32).to(dev))
            self.prior_logvar.copy_(torch.as_tensor(gmm.covariances_, dtype=torch.float32).log().to(dev))
            self.prior_fitted.fill_(1.0)
        return (f"VaDE: fitted the {self.n_components}-component mixture prior to {len(z)} codes "
                f"after {epoch - 1} pretraining epoch(s)")
