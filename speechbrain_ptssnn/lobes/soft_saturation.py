"""Soft saturation of the frozen upstream's features (paper Eq. 5)."""

import torch

from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.lobes.normalization import MaskedBatchNorm


class SoftSaturation(torch.nn.Module):
    """Bounds upstream features before they drive spiking neurons.

    .. math::
        \\tilde{x}_t = \\tanh(\\xi \\cdot \\mathrm{LayerNorm}(x_t)) \\qquad (5)

    Self-supervised features have heavy-tailed channels; the layer norm puts
    every frame on one scale and the gentle ``tanh`` (``xi = 0.1``) keeps
    outliers from saturating the first spiking layer. Padded frames are set
    to zero.

    With ``channel_norm=True`` (a deviation) each channel is first
    standardised by batch statistics over the valid frames
    (:class:`MaskedBatchNorm`; its running estimates at inference), so that a
    few channels with large offsets or spread (Whisper's frames hold some)
    do not dominate the layer norm's per-frame scale.

    Arguments
    ---------
    input_size : int
        Channels of the upstream features (768 for emotion2vec base).
    xi : float
        Slope inside the ``tanh``.
    channel_norm : bool
        Standardise each channel over the batch's valid frames first.

    Example
    -------
    >>> saturate = SoftSaturation(input_size=4)
    >>> x = torch.randn(2, 3, 4) * 100
    >>> y = saturate(x, torch.tensor([1.0, 2 / 3]))
    >>> bool(y.abs().max() < 1.0), y[1, 2].abs().sum().item()
    (True, 0.0)
    """

    def __init__(self, input_size, xi=0.1, channel_norm=False):
        super().__init__()
        self.channel_norm = MaskedBatchNorm(input_size) if channel_norm else None
        self.norm = torch.nn.LayerNorm(input_size)
        self.xi = xi

    def forward(self, x, lengths=None):
        """Saturates ``x`` ``[batch, time, channels]``; returns the same shape."""
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        if self.channel_norm is not None:
            x = self.channel_norm(x, mask)
        y = torch.tanh(self.xi * self.norm(x))
        return y * mask.unsqueeze(-1).to(y.dtype)

    def extra_repr(self):
        return f"xi={self.xi}"
