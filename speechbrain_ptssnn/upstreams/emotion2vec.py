"""A frozen emotion2vec speech encoder, loaded and run exactly as FunASR does.

emotion2vec (Ma et al., 2023, https://arxiv.org/abs/2312.15185) is a
data2vec 2.0-style self-supervised speech model. FunASR ships its code
(``funasr.models.emotion2vec``) and downloads the weights from ModelScope
(``iic/emotion2vec_base``, ``iic/emotion2vec_plus_{seed,base,large}``) or
Hugging Face (``emotion2vec/emotion2vec_base``, ...). A model directory holds
``config.yaml`` (``model: Emotion2vec`` and its ``model_conf``) and
``model.pt`` (a state dict).

:class:`Emotion2vec` turns 16 kHz waveforms into frame features at 50 Hz
(768 dims; 1024 for ``emotion2vec_plus_large``). For every utterance it returns
exactly what ``AutoModel.generate(wav, granularity="frame")`` returns for that
utterance alone: FunASR layer-normalises each whole waveform and runs one
utterance at a time without a padding mask, and batching with a padding mask
changes the features (the normalisation, the convolutional positional encoder
and the attention all see the padding), so this upstream loops over the
utterances of a batch, each cut to its valid samples.

The backbone is frozen and hidden from PyTorch's module tree: it is not a
sub-module, so its weights are neither in :meth:`Emotion2vec.parameters` (hence
never in an optimiser) nor in :meth:`Emotion2vec.state_dict` (hence never in the
adapter's checkpoints); ``.to()``/``.cuda()`` still move it, and ``.train()``
leaves it in eval mode (no dropout, no layer drop).

Loading goes through :mod:`speechbrain_ptssnn.upstreams.funasr_loading` (hub
resolution, FunASR's side effects undone, checkpoint keys checked);
:func:`~speechbrain_ptssnn.upstreams.emotion2vec_conf.emotion2vec_model_conf` and
:func:`~speechbrain_ptssnn.upstreams.random_emotion2vec.save_random_emotion2vec`
rebuild the emotion2vec_base architecture (FunASR ships no config) and write a
random-weight model directory; tests, doctests and benchmarks use them offline.
"""

import os

import torch
import torch.nn.functional as F

from speechbrain_ptssnn.lobes.masking import check_lengths
from speechbrain_ptssnn.upstreams.fingerprint import state_fingerprint
from speechbrain_ptssnn.upstreams.funasr_loading import (
    IGNORED_KEY_PREFIXES,
    build_automodel,
    check_checkpoint_keys,
    check_model_directory,
    looks_like_path,
    resolve_hub,
)

SAMPLE_RATE = 16000


class Emotion2vec(torch.nn.Module):
    """Frozen emotion2vec frame features, identical to FunASR's, batched or not.

    Loads the model with ``funasr.AutoModel`` (so hub ids are downloaded by
    FunASR's own code), then checks that every weight of the checkpoint matched
    the architecture, which FunASR does not (it skips mismatched tensors
    silently and keeps their random initialisation).

    Arguments
    ---------
    source : str
        A local model directory (``config.yaml`` + ``model.pt``, or a
        downloaded hub snapshot) or a hub model id: ``iic/emotion2vec_base``,
        ``iic/emotion2vec_plus_seed|base|large`` on ModelScope, or
        ``emotion2vec/emotion2vec_base``, ``emotion2vec/emotion2vec_plus_*`` on
        Hugging Face.
    hub : str, optional
        ``"ms"`` (ModelScope) or ``"hf"`` (Hugging Face). By default ids starting
        with ``emotion2vec/`` go to Hugging Face and all others to ModelScope.
    revision : str, optional
        Hub revision (FunASR's ``model_revision``); FunASR's default if None.
    device : str or torch.device
        Where the backbone runs at first (it follows ``.to()`` and the device of
        the input afterwards).
    ignored_key_prefixes : tuple of str
        Checkpoint/model keys left out of the key check (by default the unused
        data2vec decoder and EMA teacher, see ``IGNORED_KEY_PREFIXES``).

    Raises
    ------
    FileNotFoundError
        If ``source`` looks like a path (absolute, ``./``, ``~``) but is not a
        model directory.
    RuntimeError
        If the model could not be downloaded (the message says how to use a
        local directory instead), or if checkpoint keys or shapes did not match
        the model (the message names them).

    Example
    -------
    A tiny random-weight model of the real architecture (real use:
    ``Emotion2vec("iic/emotion2vec_base")``):

    >>> import tempfile
    >>> from speechbrain_ptssnn.upstreams import emotion2vec_model_conf, save_random_emotion2vec
    >>> conf = emotion2vec_model_conf(embed_dim=32, depth=1, num_heads=2,
    ...     prenet_depth=1, conv_channels=16, decoder_dim=16, decoder_layers=1)
    >>> upstream = Emotion2vec(save_random_emotion2vec(tempfile.mkdtemp(), conf))
    >>> wavs = torch.randn(2, 16000)
    >>> feats, feat_lens = upstream(wavs, torch.tensor([1.0, 0.5]))
    >>> feats.shape, feat_lens
    (torch.Size([2, 49, 32]), tensor([1.0000, 0.4898]))
    >>> upstream.output_size, upstream.num_frames(16000), len(upstream.state_dict())
    (32, 49, 0)
    """

    frame_rate = 50  # frames per second (a 320-sample hop at 16 kHz)

    def __init__(
        self,
        source="iic/emotion2vec_base",
        hub=None,
        revision=None,
        device="cpu",
        ignored_key_prefixes=IGNORED_KEY_PREFIXES,
    ):
        super().__init__()
        source = os.path.expanduser(os.fspath(source))
        self.source = source
        self.hub = resolve_hub(source, hub)
        self.revision = revision
        self.ignored_key_prefixes = tuple(ignored_key_prefixes)
        self.sample_rate = SAMPLE_RATE
        self._fingerprint = None

        local = os.path.isdir(source)
        if local:
            check_model_directory(source)
        elif looks_like_path(source):
            raise FileNotFoundError(
                f"emotion2vec model directory not found: {source} (a local model "
                "directory must hold config.yaml and model.pt)"
            )

        automodel = build_automodel(source, self.hub, revision, str(device))
        backbone = automodel.model
        kwargs = automodel.kwargs
        if type(backbone).__name__ != "Emotion2vec":
            raise ValueError(
                f"{source} is a FunASR '{type(backbone).__name__}' model, not an "
                "emotion2vec model (config.yaml must say 'model: Emotion2vec')"
            )
        self.model_path = kwargs.get("model_path", source)
        self.checkpoint_path = kwargs.get("init_param")
        check_checkpoint_keys(backbone, self.checkpoint_path, self.ignored_key_prefixes)

        backbone.eval()
        backbone.requires_grad_(False)
        # Stored outside ``_modules``: no parameters, no state_dict entries.
        object.__setattr__(self, "_backbone", backbone)
        cfg = backbone.cfg
        self.output_size = int(cfg.get("embed_dim"))
        self.normalize = bool(cfg.get("normalize", False))
        self._conv_layers = [
            (int(k), int(s))
            for _, k, s in backbone.modality_encoders["AUDIO"].feature_enc_layers
        ]
        self.min_samples = self._receptive_field()

    # ------------------------------------------------------------------ frozen
    @property
    def backbone(self):
        """The FunASR ``Emotion2vec`` model (frozen, in eval mode)."""
        return self._backbone

    @property
    def device(self):
        """The device the backbone is on."""
        return next(self._backbone.parameters()).device

    def train(self, mode=True):
        """Sets the training flag of this module; the backbone stays in eval.

        SpeechBrain's ``fit`` calls ``.train()`` on all modules every epoch;
        the backbone must never run dropout or layer drop.

        Arguments
        ---------
        mode : bool
            The flag (only recorded on this wrapper).

        Returns
        -------
        Emotion2vec
            ``self``.
        """
        super().train(mode)
        self._backbone.eval()
        return self

    def _apply(self, fn, *args, **kwargs):
        # ``.to()``, ``.cuda()``, ``.half()``, ... reach the hidden backbone too.
        super()._apply(fn, *args, **kwargs)
        self._backbone._apply(fn)
        return self

    # ---------------------------------------------------------------- features
    def _receptive_field(self):
        field, stride = 1, 1
        for kernel, layer_stride in self._conv_layers:
            field += (kernel - 1) * stride
            stride *= layer_stride
        return field

    def num_frames(self, num_samples):
        """Frames emotion2vec returns for a waveform of ``num_samples``.

        Arguments
        ---------
        num_samples : int
            Samples at 16 kHz.

        Returns
        -------
        int
            The number of frames (0 below the 400-sample receptive field);
            16000 samples give 49 frames.
        """
        length = int(num_samples)
        for kernel, stride in self._conv_layers:
            length = (length - kernel) // stride + 1
            if length <= 0:
                return 0
        return length

    def extract(self, wav):
        """Frame features of one utterance, as FunASR computes them.

        Arguments
        ---------
        wav : torch.Tensor
            One 16 kHz waveform ``[samples]`` (only real samples, no padding).

        Returns
        -------
        torch.Tensor
            Features ``[frames, output_size]``, float32.
        """
        if wav.dim() != 1:
            raise ValueError(f"expected one waveform [samples], got shape {list(wav.shape)}")
        if wav.shape[0] < self.min_samples:
            raise ValueError(
                f"a waveform of {wav.shape[0]} samples is too short for emotion2vec: "
                f"it needs at least {self.min_samples} samples "
                f"({1000 * self.min_samples / SAMPLE_RATE:g} ms at 16 kHz)"
            )
        backbone = self._backbone
        param = next(backbone.parameters())
        if param.device != wav.device:
            backbone.to(wav.device)
        # No autocast: mixed-precision training must not change the features.
        with torch.no_grad(), torch.autocast(device_type=wav.device.type, enabled=False):
            source = wav.to(dtype=param.dtype)
            if self.normalize:  # FunASR's Emotion2vec.inference
                source = F.layer_norm(source, source.shape)
            source = source.view(1, -1)
            out = backbone.extract_features(source, padding_mask=None)
        return out["x"].squeeze(0).float()

    def forward(self, wavs, wav_lens=None):
        """Frame features of a padded batch, one utterance at a time.

        Arguments
        ---------
        wavs : torch.Tensor
            16 kHz waveforms ``[batch, samples]`` (or one ``[samples]``).
        wav_lens : torch.Tensor, optional
            SpeechBrain relative lengths ``[batch]`` in (0, 1]; None = all full.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, output_size]`` at 50 Hz, zero past each
            utterance's frames; no gradient.
        feat_lens : torch.Tensor
            Relative lengths ``[batch]``: frames of each utterance / max frames.
        """
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.dim() != 2:
            raise ValueError(
                f"expected waveforms [batch, samples], got shape {list(wavs.shape)}"
            )
        batch, max_samples = wavs.shape
        wav_lens = check_lengths(wav_lens, batch)
        if wav_lens is None:
            n_samples = [max_samples] * batch
        else:
            n_samples = torch.round(wav_lens * max_samples).long().clamp(1, max_samples).tolist()
        feats = [self.extract(wavs[i, : n_samples[i]]) for i in range(batch)]
        n_frames = [f.shape[0] for f in feats]
        max_frames = max(n_frames)
        out = feats[0].new_zeros(batch, max_frames, self.output_size)
        for i, f in enumerate(feats):
            out[i, : f.shape[0]] = f
        feat_lens = torch.tensor(n_frames, dtype=torch.float, device=out.device) / max_frames
        return out, feat_lens

    # ---------------------------------------------------------------- identity
    def fingerprint(self):
        """A hash of the weights that shape the features (computed once).

        Returns
        -------
        str
            Hex digest over the names, shapes, dtypes and values of the
            backbone's parameters and buffers (ignored keys left out).
        """
        if self._fingerprint is None:
            self._fingerprint = state_fingerprint(
                self._backbone.state_dict(), ignored_key_prefixes=self.ignored_key_prefixes
            )
        return self._fingerprint

    def identity(self):
        """What determines the features, for feature caches.

        Returns
        -------
        dict
            Class, source, hub, weight fingerprint, layer, dimension,
            normalisation and sample rate.
        """
        source = os.path.abspath(self.source) if os.path.isdir(self.source) else self.source
        return {
            "class": "Emotion2vec",
            "source": source,
            "hub": self.hub,
            "weights": self.fingerprint(),
            "layer": "final (extract_features, granularity=frame)",
            "output_size": self.output_size,
            "normalize": self.normalize,
            "sample_rate": self.sample_rate,
        }

    def extra_repr(self):
        return f"source={self.source!r}, output_size={self.output_size}"
