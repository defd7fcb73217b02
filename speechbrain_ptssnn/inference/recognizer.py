"""The :class:`EmotionRecognizer` interface (see :mod:`speechbrain_ptssnn.inference`).

How audio is read, chunked, rounded and scored is described in the package's
documentation; reading audio and computing the upstream features is
:class:`~speechbrain_ptssnn.inference.frontend.AudioFeaturesMixin`, whose
:data:`DEFAULT_MAX_CHUNK_SECONDS` and :func:`chunk_bounds` are re-exported here.
"""

import logging
import os

import torch
from speechbrain.inference.interfaces import Pretrained

from speechbrain_ptssnn.dataprep.audio import SAMPLE_RATE
from speechbrain_ptssnn.inference.frontend import (
    DEFAULT_MAX_CHUNK_SECONDS,
    AudioFeaturesMixin,
    chunk_bounds,
)
from speechbrain_ptssnn.inference.onnx_adapter import ADAPTER_BACKENDS
from speechbrain_ptssnn.inference.segments import stream_segments
from speechbrain_ptssnn.lobes.masking import lengths_to_mask, masked_mean
from speechbrain_ptssnn.upstreams.funasr_loading import looks_like_path
from speechbrain_ptssnn.upstreams.storage import resolve_storage_dtype

__all__ = ["EmotionRecognizer", "DEFAULT_MAX_CHUNK_SECONDS", "chunk_bounds"]

logger = logging.getLogger(__name__)


def _warn_if_savedir_holds_another_model(savedir, source, hparams_file):
    """SpeechBrain reuses the files already in ``savedir``: warn if they are another model's."""
    if savedir is None:
        return
    link = os.path.join(os.fspath(savedir), hparams_file)
    if not os.path.islink(link):
        return
    target = os.path.realpath(link)
    if os.path.isdir(source):
        same = target == os.path.realpath(os.path.join(source, hparams_file))
    else:  # a hub id: the Hugging Face cache names its folders models--<user>--<repo>
        same = "models--" + source.replace("/", "--") in target
    if not same:
        logger.warning(
            "savedir %s already holds another model's files (%s links to %s); SpeechBrain "
            "reuses them instead of fetching %s: use one savedir per model",
            savedir, hparams_file, target, source,
        )


class EmotionRecognizer(AudioFeaturesMixin, Pretrained):
    """A trained PTS-SNN emotion classifier on raw audio, as SpeechBrain interfaces are.

    Built by ``from_hparams`` (or ``foreign_class``) from a folder written by
    :mod:`speechbrain_ptssnn.export`. The hparams must provide the modules
    ``upstream`` (a frozen feature extractor ``(wavs, wav_lens) -> (feats,
    feat_lens)``, e.g. :class:`~speechbrain_ptssnn.upstreams.Emotion2vec`)
    and ``adapter`` (a :class:`~speechbrain_ptssnn.lobes.PTSSNN`), and the keys
    ``label_encoder``, ``storage_dtype`` (of the training features), and
    optionally ``sample_rate`` (16000), ``max_chunk_seconds`` (30; None
    disables chunking), ``temperature`` (1: the logits are divided by it
    before the softmax; the export stores the one fitted on the fold's
    validation part), ``adapter_backend`` (``"torch"``, or ``"onnx"``: the
    logits come from ``onnx_adapter``, an
    :class:`~speechbrain_ptssnn.inference.onnx_adapter.OnnxAdapter` the
    ``pretrainer`` loaded with ``adapter.onnx``). See the module documentation
    for how audio is processed, chunked and scored.

    Arguments
    ---------
    *args, **kwargs
        As ``speechbrain.inference.interfaces.Pretrained`` (``modules``,
        ``hparams``, ``run_opts`` such as ``{"device": "cuda:0"}``,
        ``freeze_params``).

    Example
    -------
    >>> model = EmotionRecognizer.from_hparams("exported_model", savedir="tmp")  # doctest: +SKIP
    >>> log_posteriors, score, index, label = model.classify_file("angry.wav")  # doctest: +SKIP
    >>> label  # doctest: +SKIP
    ['angry']

    A runnable example with a random-weight model built in place:

    >>> from speechbrain_ptssnn.dataio import label_encoder_for
    >>> from speechbrain_ptssnn.lobes import PTSSNN
    >>> from speechbrain_ptssnn.upstreams import WaveformFeatures
    >>> from speechbrain.lobes.features import Fbank
    >>> modules = {"upstream": WaveformFeatures(Fbank(n_mels=20)),
    ...            "adapter": PTSSNN(20, 2, hidden_sizes=(16, 8), bias_hidden_size=4)}
    >>> hparams = {"label_encoder": label_encoder_for(["angry", "sad"]),
    ...            "storage_dtype": "float16"}
    >>> model = EmotionRecognizer(modules, hparams, run_opts={"device": "cpu"})
    >>> log_posteriors, score, index, label = model.classify_batch(torch.randn(3, 8000))
    >>> log_posteriors.shape, score.shape, index.shape, len(label)
    (torch.Size([3, 2]), torch.Size([3]), torch.Size([3]), 3)
    >>> model.encode_batch(torch.randn(2, 8000)).shape
    torch.Size([2, 8])
    """

    MODULES_NEEDED = ["upstream", "adapter"]
    HPARAMS_NEEDED = ["label_encoder", "storage_dtype"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        missing = [name for name in self.MODULES_NEEDED if name not in self.mods]
        if missing:
            raise ValueError(f"the hparams' modules lack {missing} (an EmotionRecognizer needs "
                             f"{self.MODULES_NEEDED})")
        hp = self.hparams
        self.sample_rate = int(getattr(hp, "sample_rate", SAMPLE_RATE))
        upstream_rate = getattr(self.mods.upstream, "sample_rate", None)
        if upstream_rate is not None and int(upstream_rate) != self.sample_rate:
            raise ValueError(f"the upstream expects {upstream_rate} Hz audio but sample_rate "
                             f"is {self.sample_rate}")
        self.storage_dtype = resolve_storage_dtype(hp.storage_dtype)
        self.max_chunk_seconds = getattr(hp, "max_chunk_seconds", DEFAULT_MAX_CHUNK_SECONDS)
        encoder = hp.label_encoder
        n_classes = self._n_classes()
        if len(encoder) == 0:
            raise ValueError("the label encoder is empty: label_encoder.txt was not loaded")
        if n_classes is not None and len(encoder) != n_classes:
            raise ValueError(f"the label encoder has {len(encoder)} labels but the adapter "
                             f"has {n_classes} outputs")
        encoder.expect_len(len(encoder))
        self.labels = list(encoder.decode_ndim(range(len(encoder))))
        self.temperature = float(getattr(hp, "temperature", 1.0) or 1.0)
        if not self.temperature > 0:
            raise ValueError(f"the temperature must be positive, got {self.temperature}")
        self.adapter_backend = getattr(hp, "adapter_backend", "torch") or "torch"
        self._check_feature_size()
        self._check_upstream_weights()

    def _check_feature_size(self):
        """The upstream's features must be as wide as those the adapter was trained on."""
        produced = getattr(self.mods.upstream, "output_size", None)
        expected = getattr(self.mods.adapter, "input_size", None)
        if produced is not None and expected is not None and int(produced) != int(expected):
            raise ValueError(
                f"the upstream gives {produced}-dim features but the adapter was trained on "
                f"{expected}-dim ones: this model pairs the adapter with an upstream it never saw"
            )

    @property
    def adapter_backend(self):
        """What computes the logits: ``"torch"`` (the adapter module) or ``"onnx"``
        (onnxruntime)."""
        return self._adapter_backend

    @adapter_backend.setter
    def adapter_backend(self, backend):
        if backend not in ADAPTER_BACKENDS:
            raise ValueError(f"unknown adapter backend {backend!r}; expected one of "
                             f"{ADAPTER_BACKENDS}")
        if backend == "onnx" and getattr(self.hparams, "onnx_adapter", None) is None:
            raise ValueError("this model has no adapter.onnx: export it with --onnx "
                             "(python -m speechbrain_ptssnn.export RUN OUT --onnx)")
        self._adapter_backend = backend

    # ----------------------------------------------------------- loading
    @classmethod
    def from_hparams(cls, source, hparams_file="hyperparams.yaml", overrides=None, **kwargs):
        """Fetches a model folder (hub id or local path) and builds the interface.

        As ``Pretrained.from_hparams``, except that the ``pretrained_path``
        hparam, where the ``pretrainer`` fetches ``adapter.ckpt`` and
        ``label_encoder.txt``, defaults to ``source`` itself, so a folder that
        was moved or uploaded under another name loads too.

        Arguments
        ---------
        source : str or os.PathLike
            A hub id (``user/repo``) or a local folder.
        hparams_file : str
            The hparams file in ``source``.
        overrides : dict, optional
            HyperPyYAML overrides, e.g. ``{"max_chunk_seconds": 10}``.
        **kwargs
            Passed to ``Pretrained.from_hparams``: ``savedir``,
            ``run_opts={"device": ...}``, ``fetch_config``, ...; and
            ``backend``: ``"torch"`` or ``"onnx"`` replaces the export's
            ``adapter_backend``.

        Returns
        -------
        EmotionRecognizer
            The loaded model.

        Raises
        ------
        FileNotFoundError
            If ``source`` names a local folder (a path, not a ``user/repo``
            hub id) that does not exist.
        """
        backend = kwargs.pop("backend", None)
        model = cls._from_hparams(source, hparams_file, overrides, **kwargs)
        if backend is not None:
            model.adapter_backend = backend
        return model

    @classmethod
    def _from_hparams(cls, source, hparams_file, overrides, **kwargs):
        if isinstance(source, (str, os.PathLike)):
            path = os.fspath(source)
            if not os.path.isdir(path) and (looks_like_path(path) or path.count("/") != 1):
                raise FileNotFoundError(
                    f"no such folder: {path} (a model source is an existing local folder, "
                    "e.g. one written by python -m speechbrain_ptssnn.export, or a hub id "
                    "user/repo)"
                )
        overrides = dict(overrides or {})
        ours = isinstance(source, (str, os.PathLike)) and "pretrained_path" not in overrides
        if ours:
            path = os.fspath(source)
            overrides["pretrained_path"] = os.path.abspath(path) if os.path.isdir(path) else path
            _warn_if_savedir_holds_another_model(kwargs.get("savedir"), path, hparams_file)
        try:
            return super().from_hparams(source, hparams_file=hparams_file, overrides=overrides,
                                        **kwargs)
        except KeyError as error:
            if not (ours and "'pretrained_path' not found" in str(error)):
                raise
        # A hand-written hyperparams.yaml without pretrained_path: load it as it is.
        del overrides["pretrained_path"]
        return super().from_hparams(source, hparams_file=hparams_file, overrides=overrides,
                                    **kwargs)

    def _n_classes(self):
        classifier = getattr(self.mods.adapter, "classifier", None)
        linear = getattr(classifier, "linear", None)
        return getattr(linear, "out_features", None)

    def _check_upstream_weights(self):
        expected = getattr(self.hparams, "upstream_weights", None)
        if not expected or not getattr(self.hparams, "check_upstream_weights", True):
            return
        identity = getattr(self.mods.upstream, "identity", None)
        actual = identity().get("weights") if callable(identity) else None
        if actual is not None and actual != expected:
            logger.warning(
                "the upstream's weights (fingerprint %s) differ from those the adapter was "
                "trained on (%s): predictions may differ from the training run's",
                actual, expected,
            )

    # ------------------------------------------------------- inference
    @torch.no_grad()
    def compute_logits(self, wavs, wav_lens=None):
        """The adapter's logits: output firing rates, one per class.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, as :meth:`compute_features_batch` takes them.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``.

        Returns
        -------
        torch.Tensor
            ``[batch, n_classes]`` (rates in [0, 1] unless trained with
            ``learn_output_scale``).
        """
        feats, feat_lens = self.compute_features_batch(wavs, wav_lens)
        if self.adapter_backend == "onnx":
            logits = self.hparams.onnx_adapter(feats.cpu(), feat_lens.cpu()).to(feats.device)
        else:
            logits = self.mods.adapter(feats, feat_lens).float()
        if not bool(torch.isfinite(logits).all()):
            raise ValueError("the adapter's outputs are not finite (NaN or infinity): its "
                             "weights are broken; refusing to give a label")
        return logits

    def posteriors(self, logits):
        """Calibrated log-posteriors of logits: ``log_softmax(logits / temperature)``."""
        return torch.log_softmax(logits.float() / self.temperature, dim=-1)

    @torch.no_grad()
    def encode_batch(self, wavs, wav_lens=None):
        """Utterance embeddings: the adapter's calibrated frames, mean-pooled.

        The frames are ``adapter.calibrated_frames``: what enters the spiking
        classifier (after attention and the homeostatic bias), averaged over
        each utterance's valid frames.

        Arguments
        ---------
        wavs : torch.Tensor
            Waveforms, as :meth:`compute_features_batch` takes them.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``.

        Returns
        -------
        torch.Tensor
            ``[batch, hidden_sizes[-1]]``.
        """
        feats, feat_lens = self.compute_features_batch(wavs, wav_lens)
        adapter = self.mods.adapter
        frames = adapter.calibrated_frames(feats, feat_lens)
        frame_lens = adapter.frame_lengths(feat_lens, feats.shape[1])
        mask = lengths_to_mask(frame_lens, frames.shape[1], device=frames.device)
        return masked_mean(frames, mask)

    def classify_batch(self, wavs, wav_lens=None):
        """Classifies a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]`` (or ``[batch, samples, channels]``, averaged)
            at ``sample_rate`` (16 kHz); use :meth:`load_audio` to read files.
        wav_lens : torch.Tensor, optional
            Relative lengths ``[batch]``; None means all full.

        Returns
        -------
        out_prob : torch.Tensor
            ``[batch, n_classes]``: calibrated log-posteriors,
            ``log_softmax(logits / temperature)`` (SpeechBrain's
            ``EncoderClassifier`` convention; ``out_prob.exp()`` are the
            probabilities).
        score : torch.Tensor
            ``[batch]``: the log-posterior of the chosen class.
        index : torch.Tensor
            ``[batch]``: the chosen class (arg max; the first one on ties).
        text_lab : list of str
            The chosen labels.
        """
        logits = self.compute_logits(wavs, wav_lens)
        out_prob = self.posteriors(logits)
        score, index = torch.max(out_prob, dim=-1)
        text_lab = self.hparams.label_encoder.decode_torch(index.cpu())
        return out_prob, score, index, list(text_lab)

    def classify_file(self, path, segment_seconds=None, hop_seconds=None, **kwargs):
        """Classifies one audio file (any rate, mono or multichannel), whole or in segments.

        Arguments
        ---------
        path : str or os.PathLike
            The audio file.
        segment_seconds : float, optional
            Classify segments of this length instead of the whole file
            (:meth:`classify_segments`): the file is streamed, never loaded whole.
        hop_seconds : float, optional
            Time between segment starts (default ``segment_seconds``).
        **kwargs
            Passed to :meth:`load_audio` (``savedir``).

        Returns
        -------
        tuple or list of dict
            ``(out_prob, score, index, text_lab)`` with a batch of one, as
            :meth:`classify_batch`; with ``segment_seconds``, the segments
            (see :meth:`classify_segments`).

        Raises
        ------
        FileNotFoundError, ValueError
            For a missing, unreadable, empty or too short file; the message
            names the file.
        """
        if segment_seconds is not None:
            return self.classify_segments(path, segment_seconds, hop_seconds)
        wav = self.load_audio(path, **kwargs)
        try:
            return self.classify_batch(wav.unsqueeze(0), torch.ones(1))
        except ValueError as error:
            raise ValueError(f"{os.fspath(path)}: {error}") from error

    def classify_segments(self, path, segment_seconds, hop_seconds=None):
        """Emotion over time: classifies segments of a file, streamed from disk.

        Segments of ``segment_seconds`` start every ``hop_seconds``; the last
        one ends with the file (see :mod:`speechbrain_ptssnn.inference.segments`).
        Each is read on its own, resampled, put through the upstream once and
        classified, so memory does not grow with the file's length.

        Arguments
        ---------
        path : str or os.PathLike
            The audio file.
        segment_seconds : float
            Segment length (at least one upstream frame).
        hop_seconds : float, optional
            Time between segment starts (default ``segment_seconds``).

        Returns
        -------
        list of dict
            In time order: ``start`` and ``end`` (seconds), ``label``,
            ``index``, ``score`` (its calibrated log-posterior),
            ``probabilities`` (label -> calibrated probability) and ``rates``
            (label -> logit).

        Raises
        ------
        FileNotFoundError, ValueError
            For a missing or unreadable file, or segments too short for the
            upstream (the file is named).
        """
        segments = []
        for start, end, wav in stream_segments(path, segment_seconds, hop_seconds,
                                               self.sample_rate):
            try:
                logits = self.compute_logits(wav.unsqueeze(0), torch.ones(1))[0].cpu()
            except ValueError as error:
                raise ValueError(f"{os.fspath(path)} [{start:.2f}-{end:.2f} s]: {error}") from error
            segments.append({"start": start, "end": end, **self._decision(logits)})
        return segments

    def _decision(self, logits):
        """Label, index, score (log-posterior), probabilities and rates of one
        utterance's logits."""
        log_posteriors = self.posteriors(logits)
        index = int(torch.argmax(log_posteriors))
        return {
            "label": self.labels[index],
            "index": index,
            "score": float(log_posteriors[index]),
            "probabilities": {lab: float(p) for lab, p in zip(self.labels, log_posteriors.exp())},
            "rates": {lab: float(r) for lab, r in zip(self.labels, logits)},
        }

    def predict_file(self, path, segment_seconds=None, hop_seconds=None, **kwargs):
        """Classifies one file into a JSON-friendly dictionary.

        Arguments
        ---------
        path : str or os.PathLike
            The audio file.
        segment_seconds, hop_seconds : float, optional
            Also (with ``segment_seconds``: instead) classify segments, as
            :meth:`classify_segments`; the file's entry is then the mean of
            the segments' probabilities, and the file is streamed.
        **kwargs
            Passed to :meth:`load_audio`.

        Returns
        -------
        dict
            ``file``, ``label``, ``index``, ``score`` (the label's calibrated
            probability), ``probabilities`` (label -> calibrated probability),
            ``rates`` (label -> logit), ``seconds`` and ``chunks``; with
            ``segment_seconds``, ``segments``: ``start``, ``end``, ``label``
            and ``probabilities`` of each (no ``rates`` or ``chunks`` for the file).
        """
        if segment_seconds is not None:
            return self._predict_segments(path, segment_seconds, hop_seconds)
        wav = self.load_audio(path, **kwargs)
        try:
            logits = self.compute_logits(wav.unsqueeze(0), torch.ones(1))[0].cpu()
        except ValueError as error:
            raise ValueError(f"{os.fspath(path)}: {error}") from error
        decision = self._decision(logits)
        decision["score"] = decision["probabilities"][decision["label"]]
        return {
            "file": os.fspath(path),
            **decision,
            "seconds": wav.shape[0] / self.sample_rate,
            "chunks": len(chunk_bounds(wav.shape[0], self.max_chunk_samples)),
        }

    def _predict_segments(self, path, segment_seconds, hop_seconds):
        segments = self.classify_segments(path, segment_seconds, hop_seconds)
        mean = torch.tensor([list(s["probabilities"].values()) for s in segments]).mean(dim=0)
        index = int(torch.argmax(mean))
        return {
            "file": os.fspath(path),
            "label": self.labels[index],
            "index": index,
            "score": float(mean[index]),
            "probabilities": {lab: float(p) for lab, p in zip(self.labels, mean)},
            "seconds": segments[-1]["end"],
            "segments": [{key: s[key] for key in ("start", "end", "label", "probabilities")}
                         for s in segments],
        }

    def forward(self, wavs, wav_lens=None):
        """Runs :meth:`classify_batch`."""
        return self.classify_batch(wavs, wav_lens)
