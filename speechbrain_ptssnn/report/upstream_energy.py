"""The frozen upstream's cost: emotion2vec base's MACs and energy, from its architecture.

The adapter's operations are counted as it runs (:mod:`~speechbrain_ptssnn.report.energy`);
the upstream encoder is estimated separately, per utterance, from the
architecture FunASR builds. Its numbers are read from the one definition of
that architecture,
:func:`~speechbrain_ptssnn.upstreams.emotion2vec_conf.emotion2vec_model_conf`
(through :func:`mac_architecture`), so the estimate and the models it
describes cannot drift apart.
"""

import math
import types
from collections import defaultdict

from speechbrain_ptssnn.report.energy import E_MAC_PJ, energy_mj
from speechbrain_ptssnn.upstreams.emotion2vec_conf import (
    emotion2vec_model_conf,
    feature_encoder_layers,
)


def mac_architecture(model_conf):
    """The numbers :func:`emotion2vec_macs` counts with, read from a ``model_conf``.

    Arguments
    ---------
    model_conf : dict
        An emotion2vec ``model_conf`` (e.g. :func:`emotion2vec_model_conf`).

    Returns
    -------
    dict
        ``embed_dim``, ``blocks`` (prenet + main transformer blocks),
        ``mlp_ratio``, ``conv_channels``, ``conv_layers`` (``(kernel, stride)``
        per layer), ``conv_pos_depth``, ``conv_pos_width``,
        ``conv_pos_groups`` and ``extra_tokens``.

    Raises
    ------
    ValueError
        If the convolutional layers do not all have the same channels.

    Example
    -------
    >>> arch = mac_architecture(emotion2vec_model_conf())
    >>> arch["embed_dim"], arch["blocks"], arch["conv_layers"][:2]
    (768, 12, ((10, 5), (3, 2)))
    """
    layers = feature_encoder_layers(model_conf)
    channels = {layer_channels for layer_channels, _, _ in layers}
    if len(channels) != 1:
        raise ValueError(
            "the MAC estimate assumes one channel count in the feature encoder, "
            f"got {sorted(channels)}"
        )
    audio = model_conf["modalities"]["audio"]
    return dict(
        embed_dim=int(model_conf["embed_dim"]),
        blocks=int(model_conf["depth"]) + int(audio["prenet_depth"]),
        mlp_ratio=float(model_conf["mlp_ratio"]),
        conv_channels=int(channels.pop()),
        conv_layers=tuple((int(kernel), int(stride)) for _, kernel, stride in layers),
        conv_pos_depth=int(audio["conv_pos_depth"]),
        conv_pos_width=int(audio["conv_pos_width"]),
        conv_pos_groups=int(audio["conv_pos_groups"]),
        extra_tokens=int(audio["num_extra_tokens"]),
    )


def _positional_kernel(arch):
    """Kernel of each of the grouped positional convolutions (FunASR's rule)."""
    return max(3, arch["conv_pos_width"] // arch["conv_pos_depth"])


def _method(model_conf):
    """:data:`EMOTION2VEC_METHOD` for a ``model_conf``, its numbers read from it."""
    arch = mac_architecture(model_conf)
    dim, channels = arch["embed_dim"], arch["conv_channels"]
    kernels = ",".join(str(kernel) for kernel, _ in arch["conv_layers"])
    strides = ",".join(str(stride) for _, stride in arch["conv_layers"])
    prenet = int(model_conf["modalities"]["audio"]["prenet_depth"])
    return (
        "MACs of emotion2vec base counted from its architecture (data2vec 2.0 base, "
        f"as FunASR builds it): a {len(arch['conv_layers'])}-layer convolutional waveform "
        f"encoder ({channels} channels, kernels {kernels}, strides {strides}: "
        f"L_i x C_out x C_in x k each), the {channels}->{dim} projection, "
        f"{arch['conv_pos_depth']} grouped positional convolutions ({dim} channels, "
        f"{arch['conv_pos_groups']} groups, kernel {_positional_kernel(arch)}), and "
        f"{arch['blocks']} transformer blocks ({prenet} prenet + {arch['blocks'] - prenet} main; "
        f"Q, K, V and output projections 4 N D^2, feed-forward 2 N D {arch['mlp_ratio']:g}D, "
        f"attention scores and mixing 2 N^2 D) over N = frames + {arch['extra_tokens']} "
        "extra tokens; "
        "per utterance from its 16 kHz sample count, so the quadratic attention term is "
        "exact per utterance. Not counted: layer norms, GELU, softmax, ALiBi biases, the "
        "waveform normalisation. Energy = MACs x E_MAC."
    )


#: emotion2vec base (data2vec 2.0 base), read from
#: :func:`~speechbrain_ptssnn.upstreams.emotion2vec_conf.emotion2vec_model_conf`
#: (read-only): see :func:`emotion2vec_macs`.
EMOTION2VEC_BASE = types.MappingProxyType(mac_architecture(emotion2vec_model_conf()))

#: How :func:`emotion2vec_macs` counts, in words (copied into every report).
EMOTION2VEC_METHOD = _method(emotion2vec_model_conf())


def _conv_out(length, kernel, stride, padding=0):
    return max(0, (length + 2 * padding - kernel) // stride + 1)


def emotion2vec_macs(num_samples, **architecture):
    """MACs of emotion2vec base on one utterance, from its architecture.

    Arguments
    ---------
    num_samples : int
        Samples of the 16 kHz waveform.
    **architecture
        Overrides of :data:`EMOTION2VEC_BASE` (``embed_dim``, ``blocks``,
        ``mlp_ratio``, ``conv_channels``, ``conv_layers``, ``conv_pos_depth``,
        ``conv_pos_width``, ``conv_pos_groups``, ``extra_tokens``), e.g.
        ``**mac_architecture(model_conf)`` for another model.

    Returns
    -------
    dict
        MACs by part (``feature_encoder``, ``projection``,
        ``positional_conv``, ``transformer_linear``, ``attention``),
        ``total`` and ``frames``. See :data:`EMOTION2VEC_METHOD`.

    Example
    -------
    >>> macs = emotion2vec_macs(16000)
    >>> macs["frames"], round(macs["total"] / 1e9, 2)
    (49, 7.72)
    """
    arch = dict(EMOTION2VEC_BASE, **architecture)
    dim = arch["embed_dim"]
    parts = defaultdict(int)
    length, channels_in = int(num_samples), 1
    for kernel, stride in arch["conv_layers"]:
        length = _conv_out(length, kernel, stride)
        parts["feature_encoder"] += length * arch["conv_channels"] * channels_in * kernel
        channels_in = arch["conv_channels"]
    frames = length
    parts["projection"] = frames * channels_in * dim
    kernel = _positional_kernel(arch)
    pos_length = _conv_out(frames, kernel, 1, kernel // 2) - (1 if kernel % 2 == 0 else 0)
    parts["positional_conv"] = (
        arch["conv_pos_depth"] * pos_length * dim * (dim // arch["conv_pos_groups"]) * kernel
    )
    tokens = frames + arch["extra_tokens"]
    hidden = int(dim * arch["mlp_ratio"])
    parts["transformer_linear"] = arch["blocks"] * (
        4 * tokens * dim * dim + 2 * tokens * dim * hidden
    )
    parts["attention"] = arch["blocks"] * 2 * tokens * tokens * dim
    result = dict(parts)
    result["total"] = sum(parts.values())
    result["frames"] = frames
    return result


def upstream_estimate(durations, sample_rate=16000, e_mac_pj=E_MAC_PJ):
    """emotion2vec base's MACs and energy on a test set, per sample and per second.

    Arguments
    ---------
    durations : list of float
        Utterance durations, seconds.
    sample_rate : int
        The encoder's sample rate.
    e_mac_pj : float
        Energy per MAC, picojoules.

    Returns
    -------
    dict
        ``model``, ``method``, ``per_sample`` and ``per_second`` (``macs``,
        ``energy_mj``).

    Example
    -------
    >>> estimate = upstream_estimate([1.0, 1.0])
    >>> round(estimate["per_second"]["energy_mj"], 1)
    35.5
    """
    total = sum(emotion2vec_macs(int(round(d * sample_rate)))["total"] for d in durations)
    seconds = sum(durations)
    per_sample = total / max(len(durations), 1)
    per_second = total / seconds if seconds else math.nan
    return {
        "model": "emotion2vec base",
        "method": EMOTION2VEC_METHOD,
        "per_sample": {"macs": per_sample, "energy_mj": energy_mj(per_sample, 0, e_mac_pj)},
        "per_second": {"macs": per_second, "energy_mj": energy_mj(per_second, 0, e_mac_pj)},
    }
