"""The PTS-SNN lobes: plain ``torch.nn.Module``s over ``[batch, time, channels]``.

The frozen upstream encoders that feed them (emotion2vec, feature modules,
precomputed files) are not lobes: they live in :mod:`speechbrain_ptssnn.upstreams`.
"""

from speechbrain_ptssnn.lobes.adapter import PTSSNN, VARIANTS
from speechbrain_ptssnn.lobes.attention import SpikingSparseLinearAttention
from speechbrain_ptssnn.lobes.classifier import SpikingClassifier
from speechbrain_ptssnn.lobes.frame_pooling import FramePooling
from speechbrain_ptssnn.lobes.homeostatic_bias import HomeostaticBiasGenerator
from speechbrain_ptssnn.lobes.low_rank_linear import LowRankLinear
from speechbrain_ptssnn.lobes.masking import check_lengths, lengths_to_mask, masked_mean
from speechbrain_ptssnn.lobes.neurons import PLIF, ReLUNeuron
from speechbrain_ptssnn.lobes.normalization import MaskedBatchNorm
from speechbrain_ptssnn.lobes.soft_saturation import SoftSaturation
from speechbrain_ptssnn.lobes.spike_encoder import SpikeEncoder
from speechbrain_ptssnn.lobes.spiking_blocks import SpikingTemporalShiftBlock
from speechbrain_ptssnn.lobes.temporal_shift import TemporalShift

__all__ = [
    "PTSSNN",
    "VARIANTS",
    "PLIF",
    "ReLUNeuron",
    "MaskedBatchNorm",
    "LowRankLinear",
    "FramePooling",
    "SoftSaturation",
    "SpikeEncoder",
    "TemporalShift",
    "SpikingTemporalShiftBlock",
    "SpikingSparseLinearAttention",
    "HomeostaticBiasGenerator",
    "SpikingClassifier",
    "check_lengths",
    "lengths_to_mask",
    "masked_mean",
]
