"""Any SpeechBrain feature module as a frozen upstream, in place of emotion2vec.

:class:`WaveformFeatures` lets any waveform feature module (e.g.
``speechbrain.lobes.features.Fbank``) stand in for emotion2vec as a frozen
upstream: same call, ``output_size`` and ``identity()``; wrap it in a
:class:`speechbrain_ptssnn.features.cache.FeatureCache` to get
``fill``/``load``.
"""

import torch

from speechbrain_ptssnn.lobes.masking import check_lengths
from speechbrain_ptssnn.upstreams.fingerprint import state_fingerprint

_VOLATILE_ATTRIBUTES = {"training", "first_call", "device_inp"}


class WaveformFeatures(torch.nn.Module):
    """Any waveform feature module as a frozen upstream that carries lengths.

    Wraps a module mapping waveforms ``[batch, samples]`` to features
    ``[batch, frames, dim]`` (e.g. ``speechbrain.lobes.features.Fbank``) into
    the upstream interface of :class:`~speechbrain_ptssnn.upstreams.emotion2vec.Emotion2vec`:
    ``forward(wavs, wav_lens) -> (feats, feat_lens)``, ``output_size`` and
    ``identity()``, so :class:`~speechbrain_ptssnn.features.cache.FeatureCache`
    and the recipes take it in place of emotion2vec (from the hparams, with no
    code change). Frame-wise features keep the relative lengths unchanged.
    The wrapped module is frozen (no gradients, always in eval mode).

    Arguments
    ---------
    features : torch.nn.Module
        The feature module.
    sample_rate : int
        The rate the module expects (16 kHz).
    output_size : int, optional
        The feature dimension; found by running one second of silence if None.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> upstream = WaveformFeatures(Fbank(n_mels=40))
    >>> feats, lens = upstream(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))
    >>> feats.shape, lens, upstream.output_size
    (torch.Size([2, 101, 40]), tensor([1.0000, 0.5000]), 40)
    >>> upstream.identity()["class"]
    'speechbrain.lobes.features.Fbank'
    """

    def __init__(self, features, sample_rate=16000, output_size=None):
        super().__init__()
        if not isinstance(features, torch.nn.Module):
            raise TypeError(f"features must be a torch.nn.Module, got {type(features).__name__}")
        self.features = features
        self.sample_rate = int(sample_rate)
        self.features.requires_grad_(False)
        self.features.eval()
        # Computed before any forward call: some modules change attributes on
        # their first call (e.g. SpeechBrain's ContextWindow.first_call).
        self._identity = {
            "class": f"{type(features).__module__}.{type(features).__qualname__}",
            "config": _module_config(features),
            "state": state_fingerprint(features.state_dict()),
            "sample_rate": self.sample_rate,
        }
        if output_size is None:
            probe = torch.zeros(1, self.sample_rate)
            output_size = self(probe)[0].shape[-1]
        self.output_size = int(output_size)

    def train(self, mode=True):
        """Sets the training flag; the wrapped module stays in eval mode.

        Arguments
        ---------
        mode : bool
            The flag.

        Returns
        -------
        WaveformFeatures
            ``self``.
        """
        super().train(mode)
        self.features.eval()
        return self

    def forward(self, wavs, wav_lens=None):
        """Features of a padded batch.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms ``[batch, samples]``.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``; None means all full.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, output_size]``, no gradient.
        feat_lens : torch.Tensor
            Relative lengths ``[batch]`` (those of the input).
        """
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        wav_lens = check_lengths(wav_lens, wavs.shape[0])
        if wav_lens is None:
            wav_lens = torch.ones(wavs.shape[0], device=wavs.device)
        with torch.no_grad():
            feats = self.features(wavs)
        if isinstance(feats, (tuple, list)):
            feats = feats[0]
        if feats.dim() != 3:
            raise ValueError(
                f"{type(self.features).__name__} returned shape {list(feats.shape)}; "
                "an upstream must return [batch, frames, dim]"
            )
        return feats, wav_lens.to(feats.device)

    def identity(self):
        """What determines the features: class, configuration, state, rate.

        Returns
        -------
        dict
            ``class`` (qualified name), ``config`` (the public scalar attributes
            of the module and its sub-modules, tensors hashed), ``state`` (a
            hash of its state dict) and ``sample_rate``.
        """
        return dict(self._identity)


def _module_config(module):
    """Public attributes of a module tree, JSON-friendly (tensors hashed)."""
    config = {}
    for name, sub in module.named_modules():
        entries = {}
        for key, value in sorted(vars(sub).items()):
            if key.startswith("_") or key in _VOLATILE_ATTRIBUTES:
                continue
            if isinstance(value, (bool, int, float, str, type(None))):
                entries[key] = value
            elif isinstance(value, (tuple, list)) and all(
                isinstance(v, (bool, int, float, str, type(None))) for v in value
            ):
                entries[key] = list(value)
            elif torch.is_tensor(value):
                entries[key] = state_fingerprint({key: value})
        config[name or "."] = {"type": type(sub).__name__, **entries}
    return config
