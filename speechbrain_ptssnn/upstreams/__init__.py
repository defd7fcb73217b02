"""Frozen upstream encoders and feature sources: what the adapter reads.

The adapter (:mod:`speechbrain_ptssnn.lobes`) never sees audio: a frozen
upstream turns it into frames first. One concept per module:

* :mod:`~speechbrain_ptssnn.upstreams.emotion2vec` -- :class:`Emotion2vec`,
  frozen emotion2vec frames, identical to FunASR's;
* :mod:`~speechbrain_ptssnn.upstreams.funasr_loading` -- loading it through
  FunASR (hub resolution, side effects undone, checkpoint keys checked);
* :mod:`~speechbrain_ptssnn.upstreams.emotion2vec_conf` -- the emotion2vec_base
  architecture (:func:`emotion2vec_model_conf`), the one definition that test
  models and the upstream's MAC estimate are built from;
* :mod:`~speechbrain_ptssnn.upstreams.random_emotion2vec` --
  :func:`save_random_emotion2vec`, random-weight model directories for offline
  tests and benchmarks;
* :mod:`~speechbrain_ptssnn.upstreams.waveform` -- :class:`WaveformFeatures`,
  any SpeechBrain feature module as an upstream;
* :mod:`~speechbrain_ptssnn.upstreams.precomputed` --
  :class:`PrecomputedFeatures`, ``.npy`` files written by another tool;
* :mod:`~speechbrain_ptssnn.upstreams.fingerprint` -- :func:`state_fingerprint`,
  weight hashes for the upstreams' ``identity()``;
* :mod:`~speechbrain_ptssnn.upstreams.storage` -- the storage dtype features are
  kept and rounded in (:func:`round_to_storage_dtype`).

Importing this package does not import FunASR (heavy): that happens only when
an emotion2vec model is loaded or built.
"""

from speechbrain_ptssnn.upstreams.emotion2vec import SAMPLE_RATE, Emotion2vec
from speechbrain_ptssnn.upstreams.emotion2vec_conf import (
    emotion2vec_model_conf,
    feature_encoder_layers,
)
from speechbrain_ptssnn.upstreams.fingerprint import state_fingerprint
from speechbrain_ptssnn.upstreams.funasr_loading import IGNORED_KEY_PREFIXES
from speechbrain_ptssnn.upstreams.precomputed import PrecomputedFeatures
from speechbrain_ptssnn.upstreams.random_emotion2vec import save_random_emotion2vec
from speechbrain_ptssnn.upstreams.storage import (
    resolve_storage_dtype,
    round_to_storage_dtype,
    storage_dtype_name,
)
from speechbrain_ptssnn.upstreams.waveform import WaveformFeatures

__all__ = [
    "Emotion2vec",
    "SAMPLE_RATE",
    "IGNORED_KEY_PREFIXES",
    "emotion2vec_model_conf",
    "feature_encoder_layers",
    "save_random_emotion2vec",
    "WaveformFeatures",
    "PrecomputedFeatures",
    "state_fingerprint",
    "resolve_storage_dtype",
    "round_to_storage_dtype",
    "storage_dtype_name",
]
