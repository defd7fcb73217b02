"""Spike encoding of the saturated features (a deviation: the paper feeds them as currents)."""

import torch

from speechbrain_ptssnn.lobes.masking import lengths_to_mask
from speechbrain_ptssnn.lobes.neurons import PLIF
from speechbrain_ptssnn.lobes.normalization import MaskedBatchNorm


class SpikeEncoder(torch.nn.Module):
    """Turns real-valued frames into binary spikes, channel by channel.

    .. math::
        S = \\mathrm{PLIF}\\big(\\mathrm{BN}([\\tilde{x}; -\\tilde{x}])\\big)

    Each channel drives its own neuron through a learned per-channel gain and
    offset (the batch norm); with ``two_sided=True`` a second neuron sees the
    negated channel, so both signs of a deviation are encoded (an ON and an
    OFF population, ``2 × input_size`` spike channels). Nothing mixes
    channels here: the encoder costs one multiply-add per channel and frame,
    and every layer after it reads spikes, so the first temporal-shift
    block's projections cost accumulates instead of multiply-accumulates
    (paper Eq. 19-21).

    Arguments
    ---------
    input_size : int
        Channels in.
    two_sided : bool
        Encode ``x`` and ``-x`` (``2 * input_size`` outputs) or ``x`` only.
    neuron : callable
        Builds the encoding neurons (:class:`PLIF` by default; see
        :class:`~speechbrain_ptssnn.lobes.neurons.ReLUNeuron` for the ANN twin).

    Example
    -------
    >>> encoder = SpikeEncoder(4)
    >>> x = torch.linspace(-3, 3, 48).reshape(2, 6, 4)
    >>> spikes = encoder(x, torch.tensor([1.0, 0.5]))
    >>> spikes.shape, sorted(spikes.unique().tolist()), spikes[1, 3:].sum().item()
    (torch.Size([2, 6, 8]), [0.0, 1.0], 0.0)
    """

    def __init__(
        self,
        input_size,
        two_sided=True,
        neuron=PLIF,
    ):
        super().__init__()
        self.input_size = input_size
        self.two_sided = two_sided
        self.output_size = input_size * (2 if two_sided else 1)
        self.norm = MaskedBatchNorm(self.output_size)
        self.neurons = neuron()

    def forward(self, x, lengths=None):
        """Encodes ``x`` ``[batch, time, input_size]`` into ``[batch, time,
        output_size]`` spikes."""
        mask = lengths_to_mask(lengths, x.shape[1], device=x.device)
        if self.two_sided:
            x = torch.cat([x, -x], dim=-1)
        return self.neurons(self.norm(x, mask), mask)

    def extra_repr(self):
        return f"{self.input_size} -> {self.output_size}, two_sided={self.two_sided}"
