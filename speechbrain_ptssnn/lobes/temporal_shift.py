"""The parameter-free temporal shift (paper Sec. III-B, Eq. 6)."""

import torch

from speechbrain_ptssnn.lobes.masking import lengths_to_mask


class TemporalShift(torch.nn.Module):
    """Moves a fraction of channels one frame forward and one frame back.

    With ``n = round(fraction * channels)``, channels ``[0, n)`` move one frame
    later in time (frame ``t`` receives frame ``t - 1``), channels ``[n, 2n)``
    one frame earlier (frame ``t`` receives frame ``t + 1``); the rest stay.
    Each utterance is zero-filled at its own ends: padded frames are zeroed
    before the shift, so nothing beyond an utterance's last real frame is
    shifted into it, and the output is zero on padded frames. No parameters,
    no multiplications: a spiking input stays spiking.

    Arguments
    ---------
    fraction : float
        Fraction of channels moved in each direction (at most 0.5).

    Example
    -------
    >>> shift = TemporalShift(fraction=0.25)
    >>> x = torch.arange(1.0, 5.0).view(1, 4, 1).repeat(1, 1, 4)
    >>> shift(x, torch.tensor([0.75]))[0].tolist()
    [[0.0, 2.0, 1.0, 1.0], [1.0, 3.0, 2.0, 2.0], [2.0, 0.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, fraction=0.125):
        super().__init__()
        if not 0.0 <= fraction <= 0.5:
            raise ValueError(f"shift fraction must lie in [0, 0.5], got {fraction}")
        self.fraction = fraction

    def forward(self, x, lengths=None):
        """Shifts ``x`` ``[batch, time, channels]``; returns the same shape."""
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        x = x * mask.unsqueeze(-1).to(x.dtype)
        n = int(round(self.fraction * int(x.shape[-1])))  # int(): a traced shape is a tensor
        if n == 0 or x.shape[1] < 2:
            return x
        forward_part = torch.nn.functional.pad(x[:, :-1, :n], (0, 0, 1, 0))
        backward_part = torch.nn.functional.pad(x[:, 1:, n : 2 * n], (0, 0, 0, 1))
        shifted = torch.cat([forward_part, backward_part, x[:, :, 2 * n :]], dim=-1)
        return shifted * mask.unsqueeze(-1).to(x.dtype)

    def extra_repr(self):
        return f"fraction={self.fraction}"
