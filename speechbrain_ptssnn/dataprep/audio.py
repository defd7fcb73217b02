"""Reading audio as the pipeline wants it: 16 kHz, mono, float32.

Corpora come at 16, 22.05, 44.1 or 48 kHz, mono or stereo. Files are never
rewritten: they are resampled and downmixed when read. Audio holding NaN or
infinite samples is refused; a WAV file shorter than its header says is
detected by :func:`wav_truncation` (the preparation warns about it).
"""

import os
import struct

import numpy
import soundfile
import torch
import torchaudio.functional

SAMPLE_RATE = 16000


def load_audio(path, sample_rate=SAMPLE_RATE):
    """Reads an audio file as a mono waveform at ``sample_rate``.

    Channels are averaged; the signal is resampled with
    ``torchaudio.functional.resample`` when its rate differs.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file soundfile can read (WAV, FLAC, OGG, ...).
    sample_rate : int
        The rate to return (16 kHz, emotion2vec's).

    Returns
    -------
    torch.Tensor
        The waveform ``[samples]``, float32.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not readable audio, holds no samples or holds
        non-finite (NaN or infinite) samples; the message names the file.

    Example
    -------
    >>> import os, tempfile, numpy
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> stereo = numpy.zeros((8000, 2), dtype="float32")
    >>> soundfile.write(path, stereo, 8000)
    >>> load_audio(path).shape
    torch.Size([16000])
    """
    path = str(path)
    try:
        signal, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # soundfile raises LibsndfileError / RuntimeError
        if not os.path.exists(path):
            raise FileNotFoundError(f"audio file not found: {path}") from error
        raise ValueError(f"{path}: not a readable audio file ({error})") from error
    if signal.shape[0] == 0:
        raise ValueError(f"{path}: the audio file holds no samples")
    bad = int(signal.size - numpy.count_nonzero(numpy.isfinite(signal)))
    if bad:
        raise ValueError(
            f"{path}: the audio holds {bad} non-finite samples (NaN or infinity) "
            f"among its {signal.size}; refusing to use it"
        )
    waveform = torch.from_numpy(signal).mean(dim=1)
    if rate != sample_rate:
        waveform = torchaudio.functional.resample(waveform, rate, sample_rate)
    return waveform.contiguous()


def audio_duration(path):
    """Duration of an audio file in seconds, read from its header.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file.

    Returns
    -------
    float
        Seconds of audio.

    Raises
    ------
    ValueError
        If the file is unreadable or empty (the message names the file).

    Example
    -------
    >>> import os, tempfile, numpy
    >>> path = os.path.join(tempfile.mkdtemp(), "half.wav")
    >>> soundfile.write(path, numpy.zeros(11025, dtype="float32"), 22050)
    >>> audio_duration(path)
    0.5
    """
    path = str(path)
    try:
        info = soundfile.info(path)
    except Exception as error:
        if not os.path.exists(path):
            raise FileNotFoundError(f"audio file not found: {path}") from error
        raise ValueError(f"{path}: not a readable audio file ({error})") from error
    if info.frames == 0:
        raise ValueError(f"{path}: the audio file holds no samples")
    return info.frames / info.samplerate



def _wav_declared_frames(path):
    """The frames a RIFF/WAVE header declares (data chunk size / block size), or None."""
    with open(path, "rb") as stream:
        head = stream.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = stream.read(8)
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = stream.read(size + (size & 1))
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack("<H", fmt[12:14])[0]
            elif name == b"data":
                # 0 and 0xFFFFFFFF: a streamed file whose writer never filled the size in
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                stream.seek(size + (size & 1), os.SEEK_CUR)


def wav_truncation(path):
    """Whether a WAV file holds fewer samples than its header says.

    Arguments
    ---------
    path : str or os.PathLike
        An audio file (anything but a RIFF/WAVE file is never reported).

    Returns
    -------
    tuple or None
        ``(declared frames, frames held, sample rate)`` for a truncated WAV,
        else None.

    Example
    -------
    >>> import os, tempfile, numpy
    >>> path = os.path.join(tempfile.mkdtemp(), "cut.wav")
    >>> soundfile.write(path, numpy.zeros(16000, dtype="float32"), 16000, subtype="PCM_16")
    >>> wav_truncation(path) is None
    True
    >>> data = open(path, "rb").read()
    >>> _ = open(path, "wb").write(data[: len(data) // 2])
    >>> wav_truncation(path)
    (16000, 7989, 16000)
    """
    path = str(path)
    try:
        declared = _wav_declared_frames(path)
        if declared is None:
            return None
        info = soundfile.info(path)
    except (OSError, RuntimeError, struct.error):
        return None
    if info.frames >= declared:
        return None
    return declared, int(info.frames), int(info.samplerate)
