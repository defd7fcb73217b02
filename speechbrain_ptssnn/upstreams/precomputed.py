"""Precomputed features: ``.npy`` files written by another tool, one per utterance.

A feature source offers ``fill(wav_paths)`` (make sure the features of these
utterances are available, before training starts), ``load(wav_path)`` (the
features of one utterance, ``[frames, dim]`` float32), ``output_size`` and
``identity()``. :class:`PrecomputedFeatures` is the one that computes nothing:
it reads ``.npy`` files written by another tool (for example
``tools/whisper_features.py``: 384-dim Whisper-tiny frames) and checks them:
a file that is not ``.npy`` (no NumPy header), of the wrong shape or dtype, or
holding NaN or infinite values is refused, named, with the count of bad values.
"""

import os

import numpy as np
import torch

from speechbrain_ptssnn.upstreams.storage import (
    resolve_storage_dtype,
    round_to_storage_dtype,
    storage_dtype_name,
)

#: how every ``.npy`` file starts
_NPY_MAGIC = b"\x93NUMPY"


class PrecomputedFeatures:
    """Features read from ``.npy`` files, one per utterance.

    The layout mirrors the audio tree: the features of
    ``data_folder/<rel>.wav`` are in ``features_folder/<rel>.npy``, an array
    ``[frames, input_size]`` of float32 or float16.

    Arguments
    ---------
    features_folder : str or os.PathLike
        Root of the ``.npy`` tree.
    data_folder : str or os.PathLike
        Root of the audio tree the wav paths lie under.
    input_size : int
        The feature dimension the adapter expects; every file must have it.
    storage_dtype : str or torch.dtype
        Features are rounded through this dtype on load (``"float16"`` by
        default, as :class:`~speechbrain_ptssnn.features.cache.FeatureCache`
        stores them), so training and inference see the same values.

    Example
    -------
    >>> import os, tempfile, numpy
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "feats", "spk1"))
    >>> numpy.save(os.path.join(root, "feats", "spk1", "a.npy"), numpy.ones((49, 4), "float32"))
    >>> source = PrecomputedFeatures(os.path.join(root, "feats"), os.path.join(root, "wav"), 4)
    >>> wav = os.path.join(root, "wav", "spk1", "a.wav")
    >>> source.fill([wav])
    {'total': 1, 'cached': 1, 'computed': 0, 'recomputed': 0}
    >>> source.load(wav).shape
    torch.Size([49, 4])
    >>> PrecomputedFeatures(os.path.join(root, "feats"), os.path.join(root, "wav"), 8).fill([wav])
    ... # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: precomputed features of the wrong shape (input_size is 8):
    .../spk1/a.npy has shape (49, 4)
    """

    def __init__(self, features_folder, data_folder, input_size, storage_dtype="float16"):
        if features_folder is None or data_folder is None:
            raise ValueError("PrecomputedFeatures needs both features_folder and data_folder")
        self.features_folder = os.path.abspath(os.fspath(features_folder))
        self.data_folder = os.path.abspath(os.fspath(data_folder))
        if input_size is None or int(input_size) <= 0:
            raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
        self.input_size = int(input_size)
        self.storage_dtype = resolve_storage_dtype(storage_dtype)

    @property
    def output_size(self):
        """The feature dimension (``input_size``)."""
        return self.input_size

    def identity(self):
        """What determines the features.

        Returns
        -------
        dict
            Class, features folder, dimension and storage dtype.
        """
        return {
            "class": "PrecomputedFeatures",
            "features_folder": self.features_folder,
            "input_size": self.input_size,
            "storage_dtype": storage_dtype_name(self.storage_dtype),
        }

    def feature_path(self, wav_path):
        """Where the features of ``wav_path`` are expected.

        Arguments
        ---------
        wav_path : str or os.PathLike
            An audio file under ``data_folder``.

        Returns
        -------
        str
            ``features_folder/<wav path relative to data_folder>.npy``.

        Raises
        ------
        ValueError
            If ``wav_path`` is not under ``data_folder``.
        """
        wav_path = os.path.abspath(os.fspath(wav_path))
        rel = os.path.relpath(wav_path, self.data_folder)
        if rel.startswith(os.pardir + os.sep) or rel == os.pardir or os.path.isabs(rel):
            real_rel = os.path.relpath(
                os.path.realpath(wav_path), os.path.realpath(self.data_folder)
            )
            if real_rel.startswith(os.pardir) or os.path.isabs(real_rel):
                raise ValueError(
                    f"{wav_path} is not under data_folder {self.data_folder}, so its "
                    "precomputed features cannot be located"
                )
            rel = real_rel
        return os.path.join(self.features_folder, os.path.splitext(rel)[0] + ".npy")

    @staticmethod
    def _read(path, mmap_mode=None):
        """The array of a ``.npy`` file; a file that is not one is named as such."""
        try:
            with open(path, "rb") as stream:
                magic = stream.read(len(_NPY_MAGIC))
        except OSError as error:
            raise ValueError(f"{path}: not a readable .npy file ({error})") from error
        if magic != _NPY_MAGIC:
            raise ValueError(
                f"{path}: not a .npy file (it does not start with NumPy's header, "
                f"{_NPY_MAGIC!r})"
            )
        try:
            return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
        except Exception as error:
            raise ValueError(f"{path}: not a readable .npy file ({error})") from error

    def _check_array(self, path, array):
        if array.ndim != 2 or array.shape[1] != self.input_size or array.shape[0] == 0:
            raise ValueError(
                f"precomputed features of the wrong shape (input_size is "
                f"{self.input_size}): {path} has shape {tuple(array.shape)}"
            )
        if array.dtype not in (np.float32, np.float16):
            raise ValueError(
                f"precomputed features must be float32 or float16: {path} holds {array.dtype}"
            )
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise ValueError(
                f"{path}: the precomputed features hold {bad} non-finite values (NaN or "
                f"infinity) among {array.size}; refusing to use them"
            )

    def fill(self, wav_paths):
        """Checks up front that every feature file exists, has the right shape and is finite.

        The files are memory-mapped and scanned once for NaN or infinite
        values; a missing or wrong file fails before training starts.

        Arguments
        ---------
        wav_paths : iterable of str
            The audio files of the experiment.

        Returns
        -------
        dict
            Counts: ``total``, ``cached`` (all present files), ``computed`` and
            ``recomputed`` (always 0).

        Raises
        ------
        FileNotFoundError
            If feature files are missing (the first ones are named).
        ValueError
            If a file is unreadable, not ``.npy``, not ``[frames, input_size]``
            float, or holds non-finite values (named).
        """
        paths = sorted({os.path.abspath(os.fspath(p)) for p in wav_paths})
        missing = []
        for wav_path in paths:
            feature_path = self.feature_path(wav_path)
            if not os.path.isfile(feature_path):
                missing.append(feature_path)
                continue
            array = self._read(feature_path, mmap_mode="r")
            self._check_array(feature_path, array)
            del array
        if missing:
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise FileNotFoundError(
                f"{len(missing)} of {len(paths)} precomputed feature files are missing: "
                f"{shown} (expected features_folder/<wav path relative to data_folder "
                f"{self.data_folder}>.npy)"
            )
        return {"total": len(paths), "cached": len(paths), "computed": 0, "recomputed": 0}

    def load(self, wav_path):
        """The features of one utterance.

        Arguments
        ---------
        wav_path : str or os.PathLike
            An audio file under ``data_folder``.

        Returns
        -------
        torch.Tensor
            ``[frames, input_size]`` float32, rounded through ``storage_dtype``.
        """
        feature_path = self.feature_path(wav_path)
        if not os.path.isfile(feature_path):
            raise FileNotFoundError(
                f"precomputed features not found: {feature_path} (for {os.fspath(wav_path)})"
            )
        array = self._read(feature_path)
        self._check_array(feature_path, array)
        feats = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        return round_to_storage_dtype(feats, self.storage_dtype)

    def __repr__(self):
        return (
            f"PrecomputedFeatures(features_folder={self.features_folder!r}, "
            f"input_size={self.input_size})"
        )
