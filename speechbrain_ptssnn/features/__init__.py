"""Feature sources for the adapter: cached upstream features or precomputed files.

Recipes build one object with ``fill(wav_paths)`` and ``load(wav_path)`` through
:func:`make_feature_source` (from the hparams) or :func:`build_feature_source`:

* ``upstream: emotion2vec`` -- a frozen emotion2vec
  (:class:`~speechbrain_ptssnn.upstreams.Emotion2vec`, from a hub id or a
  local directory given by ``upstream_source``) behind a
  :class:`~speechbrain_ptssnn.features.cache.FeatureCache`;
* ``upstream: precomputed`` -- ``.npy`` files under ``features_folder``
  (:class:`~speechbrain_ptssnn.upstreams.PrecomputedFeatures`);
* ``upstream: fbank`` -- SpeechBrain filterbanks (``input_size`` mels), cached;
* an upstream *object* from the hparams (``!new:`` a SpeechBrain feature module,
  wrapped in :class:`~speechbrain_ptssnn.upstreams.WaveformFeatures` if
  needed), cached.
"""

import os

import torch

from speechbrain_ptssnn.features.cache import FeatureCache
from speechbrain_ptssnn.upstreams import Emotion2vec, PrecomputedFeatures, WaveformFeatures

#: Upstream names :func:`build_feature_source` knows (an upstream object works too).
UPSTREAMS = ("emotion2vec", "precomputed", "fbank")

DEFAULT_SOURCE = "iic/emotion2vec_base"


def build_feature_source(
    upstream="emotion2vec",
    source=DEFAULT_SOURCE,
    features_folder=None,
    data_folder=None,
    input_size=None,
    cache_folder=None,
    storage_dtype="float16",
    sample_rate=16000,
    hub=None,
    batch_size=1,
    device="cpu",
    progress=True,
):
    """Builds the feature source of a recipe.

    Arguments
    ---------
    upstream : str or torch.nn.Module
        ``"emotion2vec"``, ``"precomputed"`` or ``"fbank"``; or an upstream
        module (an ``Emotion2vec``, a ``WaveformFeatures``, or any SpeechBrain
        feature module, which gets wrapped in ``WaveformFeatures``).
    source : str
        emotion2vec hub id or local model directory (``upstream_source``).
    features_folder : str, optional
        Root of the ``.npy`` tree (``precomputed`` only).
    data_folder : str, optional
        Root of the audio tree (``precomputed`` only).
    input_size : int, optional
        The adapter's input dimension; checked against the upstream's output
        (required for ``precomputed``; the number of mels for ``fbank``).
    cache_folder : str, optional
        Where computed features are cached (all but ``precomputed``).
    storage_dtype : str
        Storage dtype of the features (``"float16"``).
    sample_rate : int
        Audio sample rate (16 kHz).
    hub : str, optional
        ``"ms"`` or ``"hf"`` for emotion2vec hub ids (guessed if None).
    batch_size : int
        Utterances per upstream call when filling the cache.
    device : str
        Device of the upstream while filling the cache.
    progress : bool
        Show a progress bar while extracting.

    Returns
    -------
    FeatureCache or PrecomputedFeatures
        An object with ``fill(wav_paths)``, ``load(wav_path)`` and
        ``output_size``.

    Raises
    ------
    ValueError
        For an unknown upstream name (the valid ones are listed), a missing
        folder, or an ``input_size`` that does not match the upstream.

    Example
    -------
    >>> import tempfile
    >>> source = build_feature_source("fbank", input_size=40, cache_folder=tempfile.mkdtemp())
    >>> type(source).__name__, source.output_size
    ('FeatureCache', 40)
    >>> build_feature_source("wav2vec")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: unknown upstream 'wav2vec'; valid upstreams: emotion2vec, precomputed, fbank
    (or an upstream module from the hparams)
    """
    if isinstance(upstream, str):
        name = upstream.strip().lower()
        if name not in UPSTREAMS:
            raise ValueError(
                f"unknown upstream {upstream!r}; valid upstreams: {', '.join(UPSTREAMS)} "
                "(or an upstream module from the hparams)"
            )
        if name == "precomputed":
            if features_folder is None:
                raise ValueError(
                    "upstream 'precomputed' needs features_folder (--features_folder=DIR)"
                )
            if data_folder is None:
                raise ValueError("upstream 'precomputed' needs data_folder (the audio root)")
            if input_size is None:
                raise ValueError("upstream 'precomputed' needs input_size (--input_size=N)")
            return PrecomputedFeatures(features_folder, data_folder, input_size, storage_dtype)
        if name == "emotion2vec":
            module = Emotion2vec(source or DEFAULT_SOURCE, hub=hub, device=device)
        else:  # fbank
            from speechbrain.lobes.features import Fbank

            module = WaveformFeatures(
                Fbank(n_mels=int(input_size or 80), sample_rate=sample_rate), sample_rate
            )
    elif isinstance(upstream, torch.nn.Module):
        module = upstream
        if not hasattr(module, "identity"):
            module = WaveformFeatures(module, sample_rate)
    else:
        raise ValueError(
            f"upstream must be one of {', '.join(UPSTREAMS)} or a torch.nn.Module, "
            f"got {type(upstream).__name__}"
        )
    if input_size is not None and int(input_size) != int(module.output_size):
        raise ValueError(
            f"input_size is {input_size} but the upstream {type(module).__name__} gives "
            f"{module.output_size}-dim features; set input_size: {module.output_size}"
        )
    if cache_folder is None:
        raise ValueError("computed features need a cache_folder to be stored in")
    if device is not None:
        module.to(device)
    return FeatureCache(
        module,
        cache_folder,
        storage_dtype=storage_dtype,
        sample_rate=sample_rate,
        batch_size=batch_size,
        progress=progress,
    )


def make_feature_source(hparams, **overrides):
    """Builds the feature source from a recipe's hparams.

    Reads ``upstream`` (default ``emotion2vec``), ``upstream_source``,
    ``upstream_hub``, ``features_folder``, ``data_folder``, ``input_size``,
    ``cache_folder`` (else ``feature_cache_folder``, else
    ``<output_folder>/feature_cache``), ``storage_dtype``, ``sample_rate`` and
    ``feature_batch_size``; keyword arguments override them (e.g.
    ``device=run_opts["device"]``).

    Arguments
    ---------
    hparams : dict
        The loaded hparams.
    **overrides
        Arguments of :func:`build_feature_source` that win over the hparams.

    Returns
    -------
    FeatureCache or PrecomputedFeatures
        See :func:`build_feature_source`.

    Example
    -------
    >>> import os, tempfile
    >>> hparams = {"upstream": "precomputed", "features_folder": tempfile.mkdtemp(),
    ...            "data_folder": tempfile.mkdtemp(), "input_size": 384}
    >>> make_feature_source(hparams).output_size
    384
    """
    get = hparams.get
    cache_folder = get("cache_folder") or get("feature_cache_folder")
    if cache_folder is None and get("output_folder") is not None:
        cache_folder = os.path.join(get("output_folder"), "feature_cache")
    kwargs = dict(
        upstream=get("upstream", "emotion2vec"),
        source=get("upstream_source", DEFAULT_SOURCE),
        features_folder=get("features_folder"),
        data_folder=get("data_folder"),
        input_size=get("input_size"),
        cache_folder=cache_folder,
        storage_dtype=get("storage_dtype", "float16"),
        sample_rate=get("sample_rate", 16000),
        hub=get("upstream_hub"),
        batch_size=get("feature_batch_size", 1),
    )
    kwargs.update(overrides)
    return build_feature_source(**kwargs)
