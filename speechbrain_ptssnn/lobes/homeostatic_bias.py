"""The homeostatic bias generator (paper Eq. 10-13)."""

import torch


class HomeostaticBiasGenerator(torch.nn.Module):
    """A per-utterance bias that keeps the classifier's neurons in range.

    .. math::
        \\bar{p} = \\frac{1}{L_p} \\sum_i p_i \\quad (10), \\qquad
        u = W_2\\, \\mathrm{ReLU}(W_1 \\bar{p} + b_1) + b_2 \\quad (11, 12), \\qquad
        b = \\kappa \\tanh(u) \\quad (13)

    ``b`` is added to every frame before the spiking classifier, shifting its
    membrane input towards the threshold for utterances that would otherwise
    leave the neurons silent (or away from it where they would saturate);
    ``|b| < kappa``. The output layer ``W_2, b_2`` starts at zero, so the bias
    is exactly zero at initialisation and training starts from the
    uncalibrated network.

    Arguments
    ---------
    dim : int
        Channels ``D`` of the frames (and of the prompt summary).
    hidden_size : int
        Bottleneck width ``D_h``.
    kappa : float
        Bound on the bias.

    Example
    -------
    >>> generator = HomeostaticBiasGenerator(dim=8, hidden_size=2)
    >>> generator(torch.randn(3, 8)).abs().sum().item()
    0.0
    """

    def __init__(self, dim, hidden_size=64, kappa=0.5):
        super().__init__()
        self.kappa = kappa
        self.hidden = torch.nn.Linear(dim, hidden_size)
        self.output = torch.nn.Linear(hidden_size, dim)
        torch.nn.init.zeros_(self.output.weight)
        torch.nn.init.zeros_(self.output.bias)

    def forward(self, summary):
        """Maps a summary ``[batch, dim]`` (the mean output prompt) to a bias ``[batch, dim]``."""
        u = self.output(torch.relu(self.hidden(summary)))
        return self.kappa * torch.tanh(u)

    def extra_repr(self):
        return f"kappa={self.kappa}"
