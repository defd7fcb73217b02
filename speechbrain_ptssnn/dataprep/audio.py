"""Reading audio as the pipeline wants it: 16 kHz, mono, float32.

Corpora come at 16, 22.05, 44.1 or 48 kHz, mono or stereo. Files are never
rewritten: they are resampled and downmixed when read.
"""

import os

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
        If the file is not readable audio or holds no samples; the message
        names the file.

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

