"""An on-disk cache of frozen-upstream features, one file per utterance.

The upstream (emotion2vec, or any :class:`~speechbrain_ptssnn.upstreams.WaveformFeatures`)
is frozen, so its features are computed once and read back every epoch.

Layout::

    cache_folder/
      <Upstream>-<key>/            one folder per upstream identity
        identity.json              what the key was made from (for humans)
        ab/abcdef...-0123456789.pt one entry per utterance

The folder key hashes the upstream's ``identity()`` (model id or directory,
fingerprint of its weights, layer, sample rate, ...), the sample rate and the
storage dtype; the entry name hashes the audio file's absolute path and its
size and modification time. A changed backbone or a touched audio file
therefore never serves stale features: it maps to a new entry, computed again.

Each entry is ``torch.save`` of a dict readable with
``torch.load(weights_only=True)``: ``feats`` (``[frames, dim]`` in the storage
dtype), ``shape``, ``sha256`` (of the feature bytes, :func:`data_checksum`),
``audio`` (path, size, mtime) and ``format``. Writes are atomic (a temporary
file, then ``os.replace``); an entry that does not load, does not match its
recorded shape or whose data no longer matches its checksum (bytes changed
inside a valid container) is recomputed with a logged warning. Features with
NaN or infinite values are never stored: the file is named and the run stops.

Distributed training: :meth:`FeatureCache.fill` computes every missing entry it
is given, so under ``torchrun`` call it on the main process only, e.g.
``speechbrain.utils.distributed.run_on_main(cache.fill, args=[paths])`` (the
other ranks wait at the barrier), or split the work with
``fill(paths, rank=RANK, world_size=WORLD_SIZE)`` on every rank followed by a
barrier. Never let two processes fill the same paths at once.
"""

import hashlib
import json
import logging
import os
import zipfile

import torch
from tqdm import tqdm

from speechbrain_ptssnn.atomic import atomic_path, write_json
from speechbrain_ptssnn.upstreams.storage import resolve_storage_dtype, storage_dtype_name

logger = logging.getLogger(__name__)

#: entry format (part of the folder key): 2 added the data checksum
FORMAT = "speechbrain_ptssnn.features/2"


def data_checksum(feats):
    """SHA-256 of a tensor's bytes (as stored: dtype and layout included).

    Example
    -------
    >>> data_checksum(torch.zeros(2, 3, dtype=torch.float16))[:16]
    '15ec7bf0b50732b4'
    """
    data = feats.detach().cpu().contiguous().view(torch.uint8).numpy()
    return hashlib.sha256(data).hexdigest()


def _upstream_identity(upstream):
    identity = getattr(upstream, "identity", None)
    if identity is None:
        raise TypeError(
            f"{type(upstream).__name__} has no identity(): a cached upstream must say "
            "what determines its features (wrap feature modules in "
            "speechbrain_ptssnn.upstreams.WaveformFeatures)"
        )
    return identity() if callable(identity) else identity


def _upstream_device(upstream):
    device = getattr(upstream, "device", None)
    if isinstance(device, (torch.device, str)):
        return torch.device(device)
    for tensor in list(upstream.parameters()) + list(upstream.buffers()):
        return tensor.device
    return torch.device("cpu")


class FeatureCache:
    """Upstream features computed once per utterance and kept on disk.

    Arguments
    ---------
    upstream : torch.nn.Module
        A frozen feature extractor: ``upstream(wavs, wav_lens) -> (feats,
        feat_lens)`` with ``output_size`` and ``identity()``, such as
        :class:`~speechbrain_ptssnn.upstreams.Emotion2vec` or
        :class:`~speechbrain_ptssnn.upstreams.WaveformFeatures`.
    cache_folder : str or os.PathLike
        Root of the cache; entries go to a sub-folder per upstream identity.
    storage_dtype : str or torch.dtype
        Dtype on disk (``"float16"`` by default, half the space); loads return
        float32 rounded through it.
    sample_rate : int
        Rate the audio is read at (16 kHz for emotion2vec).
    batch_size : int
        Utterances per upstream call in :meth:`fill`. Keep 1 unless the
        upstream's valid frames do not depend on padding (Emotion2vec loops
        over utterances anyway, so it gains nothing from larger batches).
    progress : bool
        Show a tqdm progress bar while extracting.

    Example
    -------
    >>> import os, tempfile, numpy, soundfile
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain_ptssnn.upstreams import WaveformFeatures
    >>> root = tempfile.mkdtemp()
    >>> wav = os.path.join(root, "a.wav")
    >>> soundfile.write(wav, numpy.random.randn(16000).astype("float32") * 0.1, 16000)
    >>> cache = FeatureCache(WaveformFeatures(Fbank(n_mels=40)), os.path.join(root, "cache"),
    ...                      progress=False)
    >>> cache.fill([wav])
    {'total': 1, 'cached': 0, 'computed': 1, 'recomputed': 0}
    >>> cache.fill([wav])
    {'total': 1, 'cached': 1, 'computed': 0, 'recomputed': 0}
    >>> feats = cache.load(wav)
    >>> feats.shape, feats.dtype
    (torch.Size([101, 40]), torch.float32)
    """

    def __init__(
        self,
        upstream,
        cache_folder,
        storage_dtype="float16",
        sample_rate=16000,
        batch_size=1,
        progress=True,
    ):
        self.upstream = upstream
        self.storage_dtype = resolve_storage_dtype(storage_dtype)
        self.sample_rate = int(sample_rate)
        upstream_rate = getattr(upstream, "sample_rate", None)
        if upstream_rate is not None and int(upstream_rate) != self.sample_rate:
            raise ValueError(
                f"the upstream expects {upstream_rate} Hz audio but the cache reads "
                f"audio at {self.sample_rate} Hz"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.progress = bool(progress)
        self.output_size = int(upstream.output_size)
        self._identity = {
            "upstream": _upstream_identity(upstream),
            "sample_rate": self.sample_rate,
            "storage_dtype": storage_dtype_name(self.storage_dtype),
            "format": FORMAT,
        }
        text = json.dumps(self._identity, sort_keys=True, default=str)
        self.key = hashlib.sha256(text.encode()).hexdigest()[:16]
        name = type(upstream).__name__
        self.cache_folder = os.path.abspath(os.fspath(cache_folder))
        self.folder = os.path.join(self.cache_folder, f"{name}-{self.key}")

    def identity(self):
        """What the cache folder key is made from.

        Returns
        -------
        dict
            The upstream's identity, the sample rate, storage dtype and format.
        """
        return json.loads(json.dumps(self._identity, default=str))

    # ------------------------------------------------------------------ paths
    def entry_path(self, wav_path):
        """The cache file of an audio file in its current version.

        Arguments
        ---------
        wav_path : str or os.PathLike
            The audio file (must exist: its size and mtime are part of the key).

        Returns
        -------
        str
            ``folder/ab/<path hash>-<size/mtime hash>.pt``.
        """
        return self._entry(os.path.abspath(os.fspath(wav_path)))[0]

    def _entry(self, wav_path):
        try:
            stat = os.stat(wav_path)
        except FileNotFoundError:
            raise FileNotFoundError(f"audio file not found: {wav_path}") from None
        path_hash = hashlib.sha1(wav_path.encode()).hexdigest()[:24]
        version = hashlib.sha1(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
        audio = {"path": wav_path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        entry = os.path.join(self.folder, path_hash[:2], f"{path_hash}-{version}.pt")
        return entry, audio

    # ---------------------------------------------------------------- reading
    def _read(self, entry, audio):
        """Returns the stored float32 features, or the reason they are unusable."""
        try:
            data = torch.load(entry, map_location="cpu", weights_only=True)
        except Exception as error:
            return None, f"it does not load ({type(error).__name__}: {error})"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None, "it is not a feature cache entry"
        feats = data.get("feats")
        if not torch.is_tensor(feats) or feats.dim() != 2:
            return None, "it holds no [frames, dim] features"
        if list(feats.shape) != list(data.get("shape", [])):
            return None, (
                f"its features have shape {list(feats.shape)}, "
                f"not the recorded {data.get('shape')}"
            )
        if feats.shape[1] != self.output_size or feats.shape[0] == 0:
            return None, f"its features have shape {list(feats.shape)}"
        if feats.dtype != self.storage_dtype:
            return None, f"its features are {feats.dtype}, not {self.storage_dtype}"
        if data.get("sha256") != data_checksum(feats):
            return None, "its feature data does not match its checksum (bytes changed on disk)"
        if data.get("audio", {}).get("path") != audio["path"]:
            return None, "it belongs to another audio file"
        return feats.to(torch.float32), None

    @staticmethod
    def _looks_complete(entry):
        # Cheap check for fill(): torch.save writes a zip archive whose
        # directory is at the end, so a truncated file is not a zip file.
        try:
            return os.path.getsize(entry) > 0 and zipfile.is_zipfile(entry)
        except OSError:
            return False

    def load(self, wav_path):
        """The features of one utterance, from the cache or computed now.

        A missing entry is computed and stored; a corrupt one (truncated,
        unreadable, wrong shape, data not matching its checksum) is recomputed
        with a warning.

        Arguments
        ---------
        wav_path : str or os.PathLike
            The audio file.

        Returns
        -------
        torch.Tensor
            ``[frames, output_size]`` float32, rounded through the storage dtype.
        """
        wav_path = os.path.abspath(os.fspath(wav_path))
        entry, audio = self._entry(wav_path)
        if os.path.exists(entry):
            feats, problem = self._read(entry, audio)
            if feats is not None:
                return feats
            logger.warning(
                "feature cache entry %s (for %s) is corrupt: %s; recomputing it",
                entry, wav_path, problem,
            )
        else:
            logger.debug("features of %s are not cached yet; computing them", wav_path)
        return self._compute_and_store([(wav_path, entry, audio)])[0]

    # --------------------------------------------------------------- writing
    def fill(self, wav_paths, rank=0, world_size=1):
        """Computes and stores the features of every utterance not cached yet.

        Arguments
        ---------
        wav_paths : iterable of str
            Audio files (duplicates are handled once).
        rank : int
            This process's share of the work when ``world_size > 1``: the
            sorted unique paths are split ``paths[rank::world_size]``. Follow
            with a barrier. Leave the defaults when calling through
            ``speechbrain.utils.distributed.run_on_main``.
        world_size : int
            Number of processes sharing the work.

        Returns
        -------
        dict
            Counts over this process's share: ``total``, ``cached`` (already
            there), ``computed`` (new) and ``recomputed`` (corrupt entries
            replaced, each warned about).
        """
        paths = sorted({os.path.abspath(os.fspath(p)) for p in wav_paths})
        if world_size > 1:
            paths = paths[rank::world_size]
        todo = []
        counts = {"total": len(paths), "cached": 0, "computed": 0, "recomputed": 0}
        for wav_path in paths:
            entry, audio = self._entry(wav_path)
            if os.path.exists(entry):
                if self._looks_complete(entry):
                    counts["cached"] += 1
                    continue
                logger.warning(
                    "feature cache entry %s (for %s) is truncated or corrupt; recomputing it",
                    entry, wav_path,
                )
                counts["recomputed"] += 1
            else:
                counts["computed"] += 1
            todo.append((wav_path, entry, audio))
        if todo:
            os.makedirs(self.folder, exist_ok=True)
            self._write_identity()
            with tqdm(
                total=len(todo),
                desc=f"Extracting {type(self.upstream).__name__} features",
                unit="utt",
                disable=not self.progress,
                dynamic_ncols=True,
            ) as bar:
                for start in range(0, len(todo), self.batch_size):
                    batch = todo[start : start + self.batch_size]
                    self._compute_and_store(batch)
                    bar.update(len(batch))
        return counts

    def _compute(self, wav_paths):
        """Raw float32 features of a batch of audio files, one per file."""
        from speechbrain_ptssnn.dataprep.audio import load_audio

        wavs = [load_audio(path, self.sample_rate) for path in wav_paths]
        lengths = [w.shape[0] for w in wavs]
        max_len = max(lengths)
        batch = torch.zeros(len(wavs), max_len)
        for i, wav in enumerate(wavs):
            batch[i, : wav.shape[0]] = wav
        rel_lens = torch.tensor(lengths, dtype=torch.float) / max_len
        device = _upstream_device(self.upstream)
        try:
            with torch.no_grad():
                feats, feat_lens = self.upstream(batch.to(device), rel_lens.to(device))
        except ValueError as error:
            raise ValueError(
                f"feature extraction failed for {', '.join(wav_paths)}: {error}"
            ) from error
        feats = feats.detach().to("cpu", torch.float32)
        n_frames = torch.round(feat_lens.detach().cpu().float() * feats.shape[1]).long()
        return [feats[i, : max(1, int(n_frames[i]))].clone() for i in range(len(wavs))]

    def _compute_and_store(self, items):
        """Computes, stores and returns (rounded, float32) features of items."""
        feats_list = self._compute([wav_path for wav_path, _, _ in items])
        results = []
        for (wav_path, entry, audio), feats in zip(items, feats_list):
            if feats.dim() != 2 or feats.shape[1] != self.output_size:
                raise ValueError(
                    f"the upstream returned features of shape {list(feats.shape)} for "
                    f"{wav_path}; expected [frames, {self.output_size}]"
                )
            bad = int(feats.numel() - torch.isfinite(feats).sum())
            if bad:
                raise ValueError(
                    f"{wav_path}: the upstream's features hold {bad} non-finite values (NaN "
                    f"or infinity) among {feats.numel()}; refusing to cache them"
                )
            stored = feats.to(self.storage_dtype).contiguous()
            if not bool(torch.isfinite(stored).all()):
                raise ValueError(
                    f"features of {wav_path} overflow {self.storage_dtype}; use "
                    "storage_dtype='float32'"
                )
            self._write(entry, {
                "format": FORMAT,
                "feats": stored,
                "shape": list(stored.shape),
                "sha256": data_checksum(stored),
                "audio": audio,
                "upstream": self.key,
            })
            results.append(stored.to(torch.float32))
        return results

    def _write(self, entry, data):
        directory = os.path.dirname(entry)
        with atomic_path(entry) as tmp, open(tmp, "wb") as stream:
            torch.save(data, stream)
        # Older versions of the same audio file are stale for good.
        prefix = os.path.basename(entry).split("-")[0] + "-"
        for name in os.listdir(directory):
            if name.startswith(prefix) and name != os.path.basename(entry):
                try:
                    os.remove(os.path.join(directory, name))
                except OSError:
                    pass

    def _write_identity(self):
        path = os.path.join(self.folder, "identity.json")
        if os.path.exists(path):
            return
        write_json(path, self._identity, sort_keys=True, default=str)

    def __repr__(self):
        return (
            f"FeatureCache(upstream={type(self.upstream).__name__}, folder={self.folder!r}, "
            f"storage_dtype={storage_dtype_name(self.storage_dtype)})"
        )
