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
and the attention all see the padding), so this lobe loops over the utterances
of a batch, each cut to its valid samples.

The backbone is frozen and hidden from PyTorch's module tree: it is not a
sub-module, so its weights are neither in :meth:`Emotion2vec.parameters` (hence
never in an optimiser) nor in :meth:`Emotion2vec.state_dict` (hence never in the
adapter's checkpoints); ``.to()``/``.cuda()`` still move it, and ``.train()``
leaves it in eval mode (no dropout, no layer drop).

:func:`emotion2vec_model_conf` and :func:`save_random_emotion2vec` rebuild the
emotion2vec_base architecture (FunASR ships no config) and write a random-weight
model directory; tests, doctests and benchmarks use them offline.
"""

import contextlib
import copy
import hashlib
import io
import logging
import os
import random

import numpy as np
import torch
import torch.nn.functional as F

from speechbrain_ptssnn.lobes.masking import check_lengths

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000

#: Checkpoint keys whose absence or presence never matters for the features:
#: the data2vec reconstruction decoder (built by FunASR from the config, unused
#: by ``extract_features`` and left out of the published checkpoints) and the
#: data2vec EMA teacher (``_ema``).
IGNORED_KEY_PREFIXES = ("modality_encoders.AUDIO.decoder.", "_ema")

_HUB_ALIASES = {"ms": "ms", "modelscope": "ms", "hf": "hf", "huggingface": "hf"}


def emotion2vec_model_conf(
    embed_dim=768,
    depth=8,
    num_heads=12,
    prenet_depth=4,
    conv_channels=512,
    decoder_dim=384,
    decoder_layers=4,
    normalize=True,
):
    """The ``model_conf`` of emotion2vec_base, optionally scaled down.

    With the defaults this is the configuration of the published
    emotion2vec_base (768 dims, 8 + 4 transformer blocks, 12 heads, a 7-layer
    convolutional waveform encoder with a 320-sample hop, about 94 M
    parameters), reconstructed key by key from what
    ``funasr.models.emotion2vec`` reads. Smaller values give a model of the same
    architecture for fast tests.

    Arguments
    ---------
    embed_dim : int
        Transformer width (feature dimension); a multiple of 16 and of
        ``num_heads``.
    depth : int
        Number of main transformer blocks.
    num_heads : int
        Attention heads (also the number of ALiBi heads).
    prenet_depth : int
        Number of transformer blocks of the audio "prenet" (context encoder).
    conv_channels : int
        Channels of the convolutional waveform encoder.
    decoder_dim : int
        Width of the (unused at inference) data2vec decoder; a multiple of 16.
    decoder_layers : int
        Depth of that decoder.
    normalize : bool
        Whether FunASR layer-normalises each waveform first (true for all
        published emotion2vec models).

    Returns
    -------
    dict
        A plain ``model_conf`` dictionary (YAML-serialisable).

    Example
    -------
    >>> conf = emotion2vec_model_conf()
    >>> conf["embed_dim"], conf["depth"], conf["modalities"]["audio"]["prenet_depth"]
    (768, 8, 4)
    >>> emotion2vec_model_conf(embed_dim=64, depth=2, num_heads=4)["num_heads"]
    4
    """
    channels = int(conv_channels)
    audio = {
        "type": "AUDIO",
        "prenet_depth": int(prenet_depth),
        "prenet_layerdrop": 0.05,
        "prenet_dropout": 0.1,
        "start_drop_path_rate": 0.0,
        "end_drop_path_rate": 0.0,
        "num_extra_tokens": 10,
        "init_extra_token_zero": True,
        "mask_noise_std": 0.01,
        "mask_prob_min": None,
        "mask_prob": 0.5,
        "inverse_mask": False,
        "mask_prob_adjust": 0.05,
        "keep_masked_pct": 0.0,
        "mask_length": 5,
        "add_masks": False,
        "remove_masks": False,
        "mask_dropout": 0.0,
        "encoder_zero_mask": True,
        "mask_channel_prob": 0.0,
        "mask_channel_length": 64,
        "ema_local_encoder": False,
        "local_grad_mult": 1.0,
        "use_alibi_encoder": True,
        "alibi_scale": 1.0,
        "learned_alibi": False,
        "alibi_max_pos": None,
        "learned_alibi_scale": True,
        "learned_alibi_scale_per_head": True,
        "learned_alibi_scale_per_layer": False,
        "num_alibi_heads": int(num_heads),
        "model_depth": int(depth),
        "decoder": {
            "decoder_dim": int(decoder_dim),
            "decoder_groups": 16,
            "decoder_kernel": 7,
            "decoder_layers": int(decoder_layers),
            "input_dropout": 0.1,
            "add_positions_masked": False,
            "add_positions_all": False,
            "decoder_residual": True,
            "projection_layers": 1,
            "projection_ratio": 2.0,
        },
        "extractor_mode": "layer_norm",
        "feature_encoder_spec": (
            f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 "
            f"+ [({channels},2,2)] + [({channels},2,2)]"
        ),
        "conv_pos_width": 95,
        "conv_pos_groups": 16,
        "conv_pos_depth": 5,
        "conv_pos_pre_ln": False,
    }
    return {
        "loss_beta": 0.0,
        "loss_scale": None,
        "depth": int(depth),
        "start_drop_path_rate": 0.0,
        "end_drop_path_rate": 0.0,
        "num_heads": int(num_heads),
        "norm_eps": 1e-05,
        "norm_affine": True,
        "encoder_dropout": 0.1,
        "post_mlp_drop": 0.1,
        "attention_dropout": 0.1,
        "activation_dropout": 0.0,
        "dropout_input": 0.0,
        "layerdrop": 0.05,
        "embed_dim": int(embed_dim),
        "mlp_ratio": 4.0,
        "layer_norm_first": False,
        "average_top_k_layers": int(depth),
        "end_of_block_targets": False,
        "clone_batch": 8,
        "layer_norm_target_layer": False,
        "batch_norm_target_layer": False,
        "instance_norm_target_layer": True,
        "instance_norm_targets": False,
        "layer_norm_targets": False,
        "ema_decay": 0.999,
        "ema_same_dtype": True,
        "log_norms": True,
        "ema_end_decay": 0.99999,
        "ema_anneal_end_step": 20000,
        "ema_encoder_only": False,
        "max_update": 100000,
        "extractor_mode": "layer_norm",
        "shared_decoder": None,
        "min_target_var": 0.1,
        "min_pred_var": 0.01,
        "supported_modality": "AUDIO",
        "mae_init": False,
        "seed": 1,
        "skip_ema": False,
        "cls_loss": 1.0,
        "recon_loss": 0.0,
        "d2v_loss": 1.0,
        "decoder_group": False,
        "adversarial_training": False,
        "adversarial_hidden_dim": 128,
        "adversarial_weight": 0.1,
        "cls_type": "chunk",
        "normalize": bool(normalize),
        "modalities": {"audio": audio},
    }


def save_random_emotion2vec(directory, model_conf=None, seed=0, drop_decoder=True):
    """Writes a random-weight emotion2vec model directory FunASR can load.

    The directory gets ``config.yaml`` (``model: Emotion2vec`` and
    ``model_conf``) and ``model.pt`` (the state dict), the layout of the
    published models, so ``Emotion2vec(directory)`` and
    ``funasr.AutoModel(model=directory)`` load it through the same code path
    as a downloaded model.

    Arguments
    ---------
    directory : str or os.PathLike
        Where to write (created if needed).
    model_conf : dict, optional
        The architecture; :func:`emotion2vec_model_conf` () (base) by default.
    seed : int
        Seed of the random initialisation (the global RNG state is restored).
    drop_decoder : bool
        Leave the unused data2vec decoder out of ``model.pt``, as the published
        checkpoints do.

    Returns
    -------
    str
        ``directory``.

    Example
    -------
    >>> import os, tempfile
    >>> conf = emotion2vec_model_conf(embed_dim=32, depth=1, num_heads=2,
    ...     prenet_depth=1, conv_channels=16, decoder_dim=16, decoder_layers=1)
    >>> path = save_random_emotion2vec(tempfile.mkdtemp(), conf)
    >>> sorted(os.listdir(path))
    ['config.yaml', 'model.pt']
    """
    import yaml

    _import_funasr()
    from funasr.models.emotion2vec.model import Emotion2vec as FunasrEmotion2vec

    model_conf = emotion2vec_model_conf() if model_conf is None else model_conf
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    with _preserved_rng_state():
        torch.manual_seed(seed)
        model = FunasrEmotion2vec(model_conf=copy.deepcopy(model_conf))
    state = model.state_dict()
    if drop_decoder:
        state = {k: v for k, v in state.items() if not k.startswith(IGNORED_KEY_PREFIXES[0])}
    with open(os.path.join(directory, "config.yaml"), "w", encoding="utf-8") as f:
        yaml.safe_dump({"model": "Emotion2vec", "model_conf": model_conf}, f, sort_keys=False)
    torch.save(state, os.path.join(directory, "model.pt"))
    return directory


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
        self.hub = _resolve_hub(source, hub)
        self.revision = revision
        self.ignored_key_prefixes = tuple(ignored_key_prefixes)
        self.sample_rate = SAMPLE_RATE
        self._fingerprint = None

        local = os.path.isdir(source)
        if local:
            _check_model_directory(source)
        elif _looks_like_path(source):
            raise FileNotFoundError(
                f"emotion2vec model directory not found: {source} (a local model "
                "directory must hold config.yaml and model.pt)"
            )

        automodel = _build_automodel(source, self.hub, revision, str(device))
        backbone = automodel.model
        kwargs = automodel.kwargs
        if type(backbone).__name__ != "Emotion2vec":
            raise ValueError(
                f"{source} is a FunASR '{type(backbone).__name__}' model, not an "
                "emotion2vec model (config.yaml must say 'model: Emotion2vec')"
            )
        self.model_path = kwargs.get("model_path", source)
        self.checkpoint_path = kwargs.get("init_param")
        _check_checkpoint_keys(backbone, self.checkpoint_path, self.ignored_key_prefixes)

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


def state_fingerprint(state_dict, ignored_key_prefixes=()):
    """Hashes a state dict: names, shapes, dtypes and values.

    Arguments
    ---------
    state_dict : dict
        Name -> tensor.
    ignored_key_prefixes : tuple of str
        Keys starting with one of these are left out.

    Returns
    -------
    str
        A 32-hex-digit BLAKE2b digest.

    Example
    -------
    >>> a = state_fingerprint({"w": torch.zeros(2)})
    >>> a == state_fingerprint({"w": torch.zeros(2)}), a == state_fingerprint({"w": torch.ones(2)})
    (True, False)
    """
    hasher = hashlib.blake2b(digest_size=16)
    for name in sorted(state_dict):
        if ignored_key_prefixes and name.startswith(tuple(ignored_key_prefixes)):
            continue
        tensor = state_dict[name]
        hasher.update(name.encode())
        if not torch.is_tensor(tensor):
            hasher.update(repr(tensor).encode())
            continue
        hasher.update(f"{tuple(tensor.shape)}{tensor.dtype}".encode())
        data = tensor.detach().to("cpu").contiguous().reshape(-1)
        if data.numel():
            hasher.update(data.view(torch.uint8).numpy().data)
    return hasher.hexdigest()


# --------------------------------------------------------------------- loading
def _resolve_hub(source, hub):
    if hub is None:
        return "hf" if source.startswith("emotion2vec/") else "ms"
    if hub not in _HUB_ALIASES:
        raise ValueError(f"hub must be one of {sorted(_HUB_ALIASES)}, got {hub!r}")
    return _HUB_ALIASES[hub]


def _looks_like_path(source):
    return (
        os.path.isabs(source)
        or source.startswith(("./", "../", "~", ".\\"))
        or source.count("/") > 1
        or os.path.exists(source)
    )


def _check_model_directory(directory):
    has_config = os.path.isfile(os.path.join(directory, "config.yaml"))
    has_json = os.path.isfile(os.path.join(directory, "configuration.json"))
    if not (has_config or has_json):
        raise FileNotFoundError(
            f"{directory} is not an emotion2vec model directory: it holds neither "
            "config.yaml nor configuration.json"
        )
    if has_config and not has_json and not os.path.isfile(os.path.join(directory, "model.pt")):
        raise FileNotFoundError(f"{directory} has config.yaml but no model.pt (the weights)")


@contextlib.contextmanager
def _preserved_rng_state():
    """Restores Python, NumPy and torch RNG states (FunASR reseeds them all)."""
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def _preserved_root_logger():
    """Undoes ``logging.basicConfig`` calls (FunASR makes them on import and load)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def _preserved_process_state():
    """Undoes AutoModel's global side effects: RNG seeds, thread count, logging."""
    threads = torch.get_num_threads()
    try:
        with _preserved_root_logger(), _preserved_rng_state():
            yield
    finally:
        torch.set_num_threads(threads)


def _download_hint(source, hub):
    if hub == "hf":
        command = f"huggingface-cli download {source} --local-dir DIR"
    else:
        command = f"modelscope download --model {source} --local_dir DIR"
    return (
        f"To work offline, download the model on a machine with internet access "
        f"(e.g. `{command}`) and point at the local directory instead: "
        "Emotion2vec(source='DIR') / `upstream_source: DIR` in the hparams "
        "(a directory with config.yaml and model.pt)."
    )


def _import_funasr():
    """Imports FunASR, sending what it prints on import to the debug log."""
    printed = io.StringIO()
    with _preserved_root_logger(), contextlib.redirect_stdout(printed):
        import funasr  # noqa: F401
        import funasr.models.emotion2vec.model  # noqa: F401
    for line in printed.getvalue().splitlines():
        if line.strip():
            logger.debug("funasr: %s", line)


def _drop_trust_remote_code_notice(record):
    # FunASR logs "trust_remote_code: False" as a root warning on every load.
    return not str(record.msg).startswith("trust_remote_code")


def _build_automodel(source, hub, revision, device):
    """``funasr.AutoModel(model=source, hub=hub, disable_update=True)``, guarded."""
    _import_funasr()
    from funasr import AutoModel

    kwargs = dict(
        model=source,
        hub=hub,
        disable_update=True,
        device=device,
        ncpu=torch.get_num_threads(),
        disable_pbar=True,
        log_level="WARNING",
    )
    if revision is not None:
        kwargs["model_revision"] = revision
    printed = io.StringIO()
    root = logging.getLogger()
    root.addFilter(_drop_trust_remote_code_notice)
    try:
        with _preserved_process_state(), contextlib.redirect_stdout(printed):
            automodel = AutoModel(**kwargs)
    except Exception as error:
        output = printed.getvalue()
        local = os.path.isdir(source)
        if not local and ("is not registered" in str(error) or "Download" in output):
            failure = [line for line in output.splitlines() if line.startswith("Download")]
            reason = f" ({failure[-1].strip()})" if failure else ""
            where = "Hugging Face" if hub == "hf" else "ModelScope"
            raise RuntimeError(
                f"the emotion2vec model '{source}' could not be downloaded from "
                f"{where} (hub='{hub}'){reason}. {_download_hint(source, hub)}"
            ) from error
        raise
    finally:
        root.removeFilter(_drop_trust_remote_code_notice)
        for line in printed.getvalue().splitlines():
            if line.strip():
                # FunASR prints one line per missing key; the key check below
                # reports what matters, so these only go to the debug log.
                logger.debug("funasr: %s", line)
    return automodel


def _load_checkpoint_state(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format checkpoint: no mmap
        state = torch.load(path, map_location="cpu", weights_only=True)
    # The same unwrapping as funasr.train_utils.load_pretrained_model.
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return {
        (k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()
    }


def _check_checkpoint_keys(model, checkpoint_path, ignored_key_prefixes):
    """Fails unless every (non-ignored) model weight came from the checkpoint."""
    if not checkpoint_path or not os.path.isfile(checkpoint_path):
        raise RuntimeError(
            f"no emotion2vec weights found (checkpoint {checkpoint_path!r} does not "
            "exist); the model would run with random weights"
        )
    ckpt = _load_checkpoint_state(checkpoint_path)
    model_state = model.state_dict()
    ignored = tuple(ignored_key_prefixes)

    def kept(key):
        return not (ignored and key.startswith(ignored))

    missing = sorted(k for k in model_state if kept(k) and k not in ckpt)
    unexpected = sorted(k for k in ckpt if kept(k) and k not in model_state)
    mismatched = sorted(
        f"{k} (checkpoint {tuple(ckpt[k].shape)}, model {tuple(model_state[k].shape)})"
        for k in model_state
        if kept(k) and k in ckpt and torch.is_tensor(ckpt[k])
        and tuple(ckpt[k].shape) != tuple(model_state[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", mismatched),
        ):
            if keys:
                shown = ", ".join(keys[:20]) + (f", ... ({len(keys)} in all)" if len(keys) > 20 else "")
                parts.append(f"{label}: {shown}")
        raise RuntimeError(
            f"the emotion2vec checkpoint {checkpoint_path} does not match the model "
            f"built from its config ({'; '.join(parts)}). FunASR would have skipped "
            "these silently and left random weights in their place."
        )
