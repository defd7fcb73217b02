"""Batch normalisation whose statistics ignore padded frames."""

import torch


class MaskedBatchNorm(torch.nn.Module):
    """Batch normalisation over the valid frames of ``[batch, time, channels]``.

    In training, each channel is normalised with the mean and (biased)
    variance of the batch's *valid* frames only, and running estimates are
    updated with ``momentum`` (unbiased variance, as ``torch.nn.BatchNorm1d``);
    in evaluation the running estimates are used. Padded frames are zero on
    output.

    This is deliberately not a subclass of ``torch.nn.BatchNorm1d``: under
    ``torchrun`` SpeechBrain converts every ``nn.BatchNorm*`` to
    ``SyncBatchNorm``, which only runs on GPU and would ignore the mask. Here
    each process normalises with its own batch, as a non-distributed run does.

    Arguments
    ---------
    num_features : int
        Channels.
    momentum : float
        Weight of the current batch in the running estimates.
    eps : float
        Added to the variance for stability.

    Example
    -------
    >>> norm = MaskedBatchNorm(1)
    >>> x = torch.tensor([[[1.0], [3.0], [1000.0]]])
    >>> y = norm(x, torch.tensor([[True, True, False]]))
    >>> [round(v, 3) for v in y[0, :, 0].tolist()]
    [-1.0, 1.0, 0.0]
    """

    def __init__(self, num_features, momentum=0.1, eps=1e-5):
        super().__init__()
        self.num_features = num_features
        self.momentum = momentum
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(num_features))
        self.bias = torch.nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x, mask):
        """Normalises ``x`` ``[batch, time, channels]`` given a ``[batch, time]`` mask."""
        weights = mask.to(x.dtype).expand(x.shape[0], -1).unsqueeze(-1)
        if self.training:
            count = weights.sum().clamp(min=1.0)
            mean = (x * weights).sum(dim=(0, 1)) / count
            var = (((x - mean) ** 2) * weights).sum(dim=(0, 1)) / count
            with torch.no_grad():
                unbiased = var * count / (count - 1).clamp(min=1.0)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
        return y * weights

    def extra_repr(self):
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"
