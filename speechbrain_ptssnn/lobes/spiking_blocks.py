"""Residual temporal-shift spiking blocks (paper Eq. 6)."""

import torch

from speechbrain_ptssnn.lobes.low_rank_linear import LowRankLinear
from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.lobes.neurons import PLIF
from speechbrain_ptssnn.lobes.normalization import MaskedBatchNorm
from speechbrain_ptssnn.lobes.temporal_shift import TemporalShift


class SpikingTemporalShiftBlock(torch.nn.Module):
    """``PLIF(BN(Linear(Shift(h))))`` with a residual shortcut.

    .. math::
        S = \\mathrm{PLIF}\\big(\\mathrm{BN}(W\\,\\mathrm{Shift}(h)) + P h\\big) \\qquad (6)

    The residual is added to the neurons' *input current*, not to their
    spikes, so what leaves the block stays binary (an adder of spikes would
    emit counts 0, 1, 2 and blur the accumulate-only energy model of Eq. 19).
    ``P`` is a bias-free linear projection where the width changes (both
    blocks of the default adapter, 768→512 and 512→256) and the identity
    where it does not. With a spiking input ``h`` both ``W`` and ``P`` cost
    only accumulates; with the real-valued features of the first block ``P``
    costs as many multiply-accumulates as ``W``, so ``projection_shortcut=False``
    (a deviation) leaves the shortcut out where the width changes (the
    identity stays where it does not), and ``rank`` (a deviation) factorises
    ``W`` through a bottleneck of that many channels (:class:`LowRankLinear`).

    Arguments
    ---------
    input_size : int
        Channels in.
    output_size : int
        Channels (neurons) out.
    shift_fraction : float
        Fraction of channels shifted in each time direction.
    projection_shortcut : bool
        Whether a width-changing block has the projection shortcut ``P h``
        (otherwise no shortcut there).
    neuron : callable
        Builds the block's neurons (:class:`PLIF` by default, or a
        ``functools.partial`` of it with other settings; :class:`ReLUNeuron`
        for the ANN twin).
    rank : int, optional
        Rank of ``W`` (None: full, the paper's).

    Example
    -------
    >>> block = SpikingTemporalShiftBlock(16, 8)
    >>> spikes = block(torch.randn(2, 5, 16), torch.tensor([1.0, 0.6]))
    >>> spikes.shape, sorted(spikes.unique().tolist()), spikes[1, 3:].sum().item()
    (torch.Size([2, 5, 8]), [0.0, 1.0], 0.0)
    """

    def __init__(
        self,
        input_size,
        output_size,
        shift_fraction=0.125,
        projection_shortcut=True,
        neuron=PLIF,
        rank=None,
    ):
        super().__init__()
        self.shift = TemporalShift(shift_fraction)
        if rank is None:
            self.linear = torch.nn.Linear(input_size, output_size, bias=False)
        else:
            self.linear = LowRankLinear(input_size, output_size, rank)
        self.norm = MaskedBatchNorm(output_size)
        if input_size == output_size:
            self.shortcut = torch.nn.Identity()
        elif projection_shortcut:
            self.shortcut = torch.nn.Linear(input_size, output_size, bias=False)
        else:
            self.shortcut = None
        self.neurons = neuron()

    def forward(self, h, lengths=None):
        """Maps ``h`` ``[batch, time, input_size]`` to spikes ``[batch, time, output_size]``."""
        mask = lengths_to_mask(lengths, h.shape[1], device=h.device)
        current = self.norm(self.linear(self.shift(h, lengths)), mask)
        if self.shortcut is not None:
            current = current + self.shortcut(h)
        return self.neurons(current, mask)
