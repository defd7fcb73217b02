"""Emotion over time on long recordings: segments streamed from the file, and their plot.

``EmotionRecognizer.classify_file(path, segment_seconds=S, hop_seconds=H)``
reads the file segment by segment (:func:`stream_segments`): each segment is
read from disk on its own (``soundfile.SoundFile.seek`` and ``read``), downmixed,
resampled to the model's rate and classified, so memory stays that of one
segment however long the file is. Segments start every ``H`` seconds and last
``S``; the last one is aligned with the end of the file (it starts less than
``H`` after the one before), so every segment is ``S`` long and together they
cover the file. A file shorter than ``S`` is one segment. Each segment is
resampled alone (no filter state crosses a boundary).
"""

import math
import os

import soundfile
import torch
import torchaudio.functional


def segment_bounds(num_frames, rate, segment_seconds, hop_seconds=None):
    """``(start, end)`` sample indices of the segments of a file.

    Arguments
    ---------
    num_frames : int
        Samples (per channel) in the file.
    rate : int
        Its sample rate.
    segment_seconds : float
        Segment length ``S``.
    hop_seconds : float, optional
        Time between segment starts ``H`` (default ``S``: no overlap).

    Returns
    -------
    list of (int, int)
        In order, each ``round(S * rate)`` long (or the whole file if
        shorter), starting every ``round(H * rate)`` samples; the last ends
        with the file.

    Raises
    ------
    ValueError
        For a non-positive ``S`` or ``H``.

    Example
    -------
    >>> segment_bounds(10, 1, 4, 3)
    [(0, 4), (3, 7), (6, 10)]
    >>> segment_bounds(10, 1, 4)
    [(0, 4), (4, 8), (6, 10)]
    >>> segment_bounds(3, 1, 4)
    [(0, 3)]
    """
    hop_seconds = segment_seconds if hop_seconds is None else hop_seconds
    if not segment_seconds > 0 or not hop_seconds > 0:
        raise ValueError(f"segment and hop must be positive, got {segment_seconds} s and "
                         f"{hop_seconds} s")
    length = max(1, int(round(segment_seconds * rate)))
    hop = max(1, int(round(hop_seconds * rate)))
    num_frames = int(num_frames)
    if num_frames <= length:
        return [(0, num_frames)]
    count = math.ceil((num_frames - length) / hop)
    bounds = [(k * hop, k * hop + length) for k in range(count)]
    bounds.append((num_frames - length, num_frames))
    return bounds


def stream_segments(path, segment_seconds, hop_seconds=None, sample_rate=16000):
    """Yields the segments of an audio file, read one at a time.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file soundfile can read and seek in.
    segment_seconds, hop_seconds : float
        See :func:`segment_bounds`.
    sample_rate : int
        The rate to resample each segment to.

    Yields
    ------
    start, end : float
        Seconds from the start of the file.
    waveform : torch.Tensor
        The segment ``[samples]``, mono float32 at ``sample_rate``.

    Raises
    ------
    FileNotFoundError, ValueError
        For a missing, unreadable or empty file (named in the message).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        audio = soundfile.SoundFile(path)
    except Exception as error:
        raise ValueError(f"{path}: not a readable audio file ({error})") from error
    with audio:
        if audio.frames == 0:
            raise ValueError(f"{path}: the audio file holds no samples")
        rate = audio.samplerate
        for start, end in segment_bounds(audio.frames, rate, segment_seconds, hop_seconds):
            audio.seek(start)
            block = audio.read(end - start, dtype="float32", always_2d=True)
            waveform = torch.from_numpy(block).mean(dim=1)
            if rate != sample_rate:
                waveform = torchaudio.functional.resample(waveform, rate, sample_rate)
            yield start / rate, end / rate, waveform.contiguous()


def plot_segments(timelines, path):
    """Plots emotion probabilities over time, one panel per file.

    Arguments
    ---------
    timelines : list of (str, list of dict)
        ``(file, segments)``; each segment has ``start``, ``end`` and
        ``probabilities`` (label -> probability).
    path : str or os.PathLike
        The image to write (PNG, PDF, ... by its extension).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(timelines), 1, figsize=(10, 2.6 * len(timelines)),
                                squeeze=False, sharey=True)
    for axis, (name, segments) in zip(axes[:, 0], timelines):
        labels = list(segments[0]["probabilities"]) if segments else []
        middle = [(s["start"] + s["end"]) / 2 for s in segments]
        for label in labels:
            axis.plot(middle, [s["probabilities"][label] for s in segments], marker=".",
                      label=label)
        axis.set_title(os.path.basename(os.fspath(name)), fontsize=10)
        axis.set_ylabel("probability")
        axis.set_ylim(0.0, 1.0)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s, segment centres)")
    if timelines and timelines[0][1]:
        axes[0, 0].legend(loc="upper right", ncol=min(4, len(timelines[0][1][0]["probabilities"])),
                          fontsize=8)
    figure.tight_layout()
    figure.savefig(os.fspath(path), dpi=120)
    plt.close(figure)
