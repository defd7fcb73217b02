"""From audio to the adapter's features: reading files, chunking, upstream features.

Holds :data:`DEFAULT_MAX_CHUNK_SECONDS`, :func:`chunk_bounds` (how long audio
is split for the upstream) and :class:`AudioFeaturesMixin`, the part of
:class:`~speechbrain_ptssnn.inference.recognizer.EmotionRecognizer` that reads
audio and computes the upstream features as training stored them.
"""

import math
import os

import torch

from speechbrain_ptssnn.dataprep.audio import load_audio as read_audio
from speechbrain_ptssnn.lobes.masking import check_lengths
from speechbrain_ptssnn.upstreams.storage import round_to_storage_dtype

#: Default longest stretch of audio the upstream sees at once (seconds).
DEFAULT_MAX_CHUNK_SECONDS = 30.0


def chunk_bounds(num_samples, max_samples=None):
    """Splits ``num_samples`` into the fewest equal chunks of at most ``max_samples``.

    Arguments
    ---------
    num_samples : int
        Length of the waveform.
    max_samples : int or None
        Longest chunk; None (or a length that fits) gives one chunk.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` sample indices covering the waveform in order; chunk
        lengths differ by at most one sample.

    Example
    -------
    >>> chunk_bounds(10, 4)
    [(0, 3), (3, 7), (7, 10)]
    >>> chunk_bounds(10, None), chunk_bounds(8, 8)
    ([(0, 10)], [(0, 8)])
    """
    num_samples = int(num_samples)
    if max_samples is None or num_samples <= max_samples:
        return [(0, num_samples)]
    n_chunks = math.ceil(num_samples / int(max_samples))
    edges = [round(i * num_samples / n_chunks) for i in range(n_chunks + 1)]
    return list(zip(edges[:-1], edges[1:]))


class AudioFeaturesMixin:
    """Audio reading and upstream features, mixed into ``EmotionRecognizer``.

    The part of :class:`~speechbrain_ptssnn.inference.recognizer.EmotionRecognizer`
    from a file or waveform to the adapter's input. Expects the attributes the
    recognizer sets: ``mods.upstream``, ``device``, ``sample_rate``,
    ``storage_dtype`` and ``max_chunk_seconds``.
    """

    # ------------------------------------------------------------ audio
    def load_audio(self, path, savedir=None):
        """Reads an audio file as training did: mono, ``sample_rate``, float32.

        Arguments
        ---------
        path : str or os.PathLike
            A local audio file, or an ``http(s)://`` address (fetched into
            ``savedir`` first).
        savedir : str, optional
            Where remote files are saved.

        Returns
        -------
        torch.Tensor
            The waveform ``[samples]`` (on the CPU).

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        ValueError
            If it is not readable audio or holds no samples (the file is named).
        """
        path = os.fspath(path)
        if path.startswith(("http://", "https://")):
            from speechbrain.utils.data_utils import split_path
            from speechbrain.utils.fetching import fetch

            source, name = split_path(path)
            path = os.fspath(fetch(name, source=source, savedir=savedir))
        return read_audio(path, self.sample_rate)

    @property
    def max_chunk_samples(self):
        """``max_chunk_seconds`` in samples (None: no chunking)."""
        if self.max_chunk_seconds is None:
            return None
        samples = int(round(float(self.max_chunk_seconds) * self.sample_rate))
        minimum = 2 * int(getattr(self.mods.upstream, "min_samples", 1))
        if samples < minimum:
            raise ValueError(f"max_chunk_seconds={self.max_chunk_seconds} is too short: a chunk "
                             f"needs at least {minimum / self.sample_rate:g} s")
        return samples

    # --------------------------------------------------------- features
    def compute_features(self, wav):
        """Upstream features of one waveform, as the adapter saw them in training.

        Arguments
        ---------
        wav : torch.Tensor
            One waveform ``[samples]`` at ``sample_rate`` (no padding).

        Returns
        -------
        torch.Tensor
            ``[frames, input_size]`` float32, rounded through ``storage_dtype``;
            chunks of long audio concatenated in time.

        Raises
        ------
        ValueError
            If the waveform is shorter than one upstream frame.
        """
        if wav.dim() != 1:
            raise ValueError(f"expected one waveform [samples], got shape {list(wav.shape)}")
        upstream = self.mods.upstream
        num_samples = int(wav.shape[0])
        min_samples = int(getattr(upstream, "min_samples", 1))
        if num_samples < min_samples:
            raise ValueError(
                f"the audio is too short: {num_samples} samples "
                f"({1000 * num_samples / self.sample_rate:g} ms) is less than one "
                f"{type(upstream).__name__} frame, which needs at least {min_samples} samples "
                f"({1000 * min_samples / self.sample_rate:g} ms at {self.sample_rate} Hz)"
            )
        wav = wav.to(self.device, torch.float32)
        pieces = []
        for start, end in chunk_bounds(num_samples, self.max_chunk_samples):
            chunk = wav[start:end].unsqueeze(0)
            feats, feat_lens = upstream(chunk, torch.ones(1, device=self.device))
            n_frames = int(torch.round(feat_lens[0].float() * feats.shape[1]))
            pieces.append(feats[0, : max(1, n_frames)].float())
        feats = torch.cat(pieces, dim=0)
        if feats.shape[0] == 0:
            raise ValueError(f"the audio ({num_samples} samples) gave no upstream frames")
        bad = int(feats.numel() - torch.isfinite(feats).sum())
        if bad:
            raise ValueError(f"the upstream's features hold {bad} non-finite values (NaN or "
                             "infinity); refusing to classify them")
        rounded = round_to_storage_dtype(feats, self.storage_dtype)
        if not bool(torch.isfinite(rounded).all()):
            raise ValueError(f"the features overflow the storage dtype {self.storage_dtype}")
        return rounded

    def compute_features_batch(self, wavs, wav_lens=None):
        """Padded upstream features of a batch of waveforms.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[batch, samples]``, ``[batch, samples, channels]`` (channels are
            averaged) or one ``[samples]``, at ``sample_rate``.
        wav_lens : torch.Tensor, optional
            SpeechBrain relative lengths ``[batch]``; None means all full.

        Returns
        -------
        feats : torch.Tensor
            ``[batch, frames, input_size]``, zero-padded.
        feat_lens : torch.Tensor
            Relative lengths ``[batch]`` of the features.
        """
        wavs = torch.as_tensor(wavs)
        if wavs.dim() == 1:
            wavs = wavs.unsqueeze(0)
        if wavs.dim() == 3:
            wavs = wavs.float().mean(dim=-1)
        if wavs.dim() != 2:
            raise ValueError(f"expected waveforms [batch, samples], got shape {list(wavs.shape)}")
        batch, max_samples = wavs.shape
        if batch == 0 or max_samples == 0:
            raise ValueError("the batch holds no audio")
        finite = torch.isfinite(wavs)
        if not bool(finite.all()):
            bad = (~finite).sum(dim=-1).tolist()
            which = ", ".join(f"utterance {i}: {n}" for i, n in enumerate(bad) if n)
            raise ValueError(
                f"the waveforms hold {sum(bad)} non-finite samples (NaN or infinity) "
                f"({which}); refusing to classify them"
            )
        wav_lens = check_lengths(wav_lens, batch)
        if wav_lens is None:
            n_samples = [max_samples] * batch
        else:
            n_samples = torch.round(wav_lens.cpu() * max_samples).long()
            n_samples = n_samples.clamp(1, max_samples).tolist()
        feats = []
        for i in range(batch):
            try:
                feats.append(self.compute_features(wavs[i, : n_samples[i]]))
            except ValueError as error:
                if batch == 1:
                    raise
                raise ValueError(f"utterance {i} of the batch: {error}") from error
        n_frames = [f.shape[0] for f in feats]
        out = feats[0].new_zeros(batch, max(n_frames), feats[0].shape[1])
        for i, f in enumerate(feats):
            out[i, : f.shape[0]] = f
        feat_lens = torch.tensor(n_frames, dtype=torch.float, device=out.device) / max(n_frames)
        return out, feat_lens
