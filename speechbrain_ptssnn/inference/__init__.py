"""Pretrained PTS-SNN emotion models: load from a hub or a folder, classify audio.

:class:`EmotionRecognizer` is a SpeechBrain ``Pretrained`` interface, used
like SpeechBrain's own ``EncoderClassifier``::

    from speechbrain_ptssnn.inference import EmotionRecognizer

    model = EmotionRecognizer.from_hparams(source="user/ptssnn-emodb", savedir="tmp/model")
    log_posteriors, score, index, label = model.classify_file("angry.wav")
    segments = model.classify_file("interview.wav", segment_seconds=2.0, hop_seconds=1.0)

or, without importing this module, through SpeechBrain's ``foreign_class``
(the exported folder holds a ``custom_interface.py`` that imports it)::

    from speechbrain.inference.interfaces import foreign_class

    model = foreign_class(source="user/ptssnn-emodb", pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")

The model folder is written by :mod:`speechbrain_ptssnn.export` from a finished
training run: ``hyperparams.yaml`` (HyperPyYAML: the upstream, the adapter, the
label encoder and a ``pretrainer``), ``adapter.ckpt`` (a plain state dict),
``label_encoder.txt``, ``custom_interface.py`` and a model card.

What happens to a file
----------------------
1. It is read with :func:`speechbrain_ptssnn.dataprep.audio.load_audio`, the
   reader training used: channels averaged to mono, resampled to 16 kHz.
2. The frozen upstream (emotion2vec by default; whichever the run used) turns
   it into frames, one utterance at a time, exactly as the feature cache did
   during training.
3. The frames are rounded through the training run's storage dtype
   (``float16`` by default, :func:`~speechbrain_ptssnn.upstreams.round_to_storage_dtype`),
   so the adapter sees the values it was evaluated on.
4. The PTS-SNN adapter gives one firing rate per class (the logits).

Long audio
----------
Audio longer than ``max_chunk_seconds`` (30 s by default; an hparam, so it can
be overridden at load time) is cut into ``ceil(duration / max_chunk_seconds)``
chunks of equal length; the upstream runs on each chunk separately and the
chunks' frames are **concatenated in time** before the adapter, which then
classifies the whole recording at once (its temporal shift, attention and
firing rates span every chunk). Up to ``max_chunk_seconds`` this is exactly the
training computation; beyond it only the upstream's context is limited to a
chunk (and each chunk boundary can drop a partial frame). This bounds
emotion2vec's memory (its attention is quadratic in length); the adapter's
attention is linear in length.

Probabilities
-------------
The adapter's logits are firing rates in [0, 1] (unless the run was trained
with ``learn_output_scale``): their plain softmax is close to uniform. After
training, each fold fits one temperature ``T`` on its validation part
(``fold_<k>/calibration.json``, with the expected calibration error before and
after); the export stores it as ``temperature``, and the probabilities are
``softmax(logits / T)``. :meth:`EmotionRecognizer.classify_batch` returns them
as SpeechBrain's ``EncoderClassifier`` does: ``out_prob`` the log-posteriors,
``score`` the best log-posterior; ``ptssnn-classify --json`` prints the
probabilities themselves. :meth:`EmotionRecognizer.compute_logits` gives the
rates.

Emotion over time
-----------------
``classify_file(path, segment_seconds=S, hop_seconds=H)`` (and
``ptssnn-classify --segment S --hop H``) streams the file in segments of ``S``
seconds every ``H`` seconds and classifies each alone, the upstream running
once per segment: memory stays that of one segment for hour-long files
(:mod:`~speechbrain_ptssnn.inference.segments`).

ONNX
----
A model exported with ``--onnx`` holds ``adapter.onnx`` and computes its logits
with onnxruntime (``adapter_backend: onnx``; ``backend="torch"`` or
``ptssnn-classify --backend torch`` to use PyTorch): the adapter then needs
neither SpikingJelly nor Numba (its hparams build the PLIF layers on the
plain-PyTorch backend).

Security
--------
``hyperparams.yaml`` is HyperPyYAML: loading it imports and calls the Python
objects it names, so loading a model from an untrusted hub repository runs
its code, as with every SpeechBrain ``from_hparams``/``foreign_class``. The
weights themselves are read with ``torch.load(..., weights_only=True)``.

The console script ``ptssnn-classify`` (:func:`main`) classifies files from
the command line.

Modules: :mod:`~speechbrain_ptssnn.inference.recognizer` (the interface),
:mod:`~speechbrain_ptssnn.inference.frontend` (reading audio, chunking, upstream features),
:mod:`~speechbrain_ptssnn.inference.hooks` (the ``pretrainer``'s strict load
hooks), :mod:`~speechbrain_ptssnn.inference.onnx_adapter` (onnxruntime),
:mod:`~speechbrain_ptssnn.inference.segments` (streamed segments, their plot)
and :mod:`~speechbrain_ptssnn.inference.cli` (the console script).
"""

from speechbrain_ptssnn.inference.cli import main
from speechbrain_ptssnn.inference.hooks import (
    check_adapter_state,
    load_adapter_state,
    load_label_encoder,
)
from speechbrain_ptssnn.inference.onnx_adapter import OnnxAdapter, load_onnx_adapter
from speechbrain_ptssnn.inference.recognizer import (
    DEFAULT_MAX_CHUNK_SECONDS,
    EmotionRecognizer,
    chunk_bounds,
)

__all__ = [
    "EmotionRecognizer",
    "chunk_bounds",
    "load_adapter_state",
    "load_label_encoder",
    "check_adapter_state",
    "OnnxAdapter",
    "load_onnx_adapter",
    "main",
    "DEFAULT_MAX_CHUNK_SECONDS",
]
