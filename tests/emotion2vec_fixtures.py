"""Helpers for offline emotion2vec tests: random-weight checkpoints, audio, FunASR.

Not a conftest: test modules import what they need. The model directories are
written in the on-disk format FunASR loads (config.yaml + model.pt), so they go
through the same ``funasr.AutoModel`` code path as a downloaded hub model.
"""

import os

import numpy as np
import soundfile
import torch

from speechbrain_ptssnn.upstreams import emotion2vec_model_conf, save_random_emotion2vec

#: The emotion2vec architecture, scaled down for fast tests.
TINY_CONF = emotion2vec_model_conf(
    embed_dim=64,
    depth=2,
    num_heads=4,
    prenet_depth=1,
    conv_channels=32,
    decoder_dim=32,
    decoder_layers=1,
)

#: emotion2vec_base (768 dims, 8 + 4 blocks, 12 heads, ~94 M parameters).
BASE_CONF = emotion2vec_model_conf()


def make_model_dir(directory, conf=None, seed=0, drop_decoder=True):
    """Writes a random-weight emotion2vec model directory; returns its path."""
    return save_random_emotion2vec(
        directory, TINY_CONF if conf is None else conf, seed=seed, drop_decoder=drop_decoder
    )


def make_signal(seconds, kind="sine", freq=220.0, seed=0, sample_rate=16000):
    """A float32 test signal: a sine, noise, or a chirp plus noise."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    rng = np.random.default_rng(seed)
    if kind == "sine":
        signal = 0.5 * np.sin(2 * np.pi * freq * t)
    elif kind == "noise":
        signal = 0.1 * rng.standard_normal(n)
    else:
        signal = 0.4 * np.sin(2 * np.pi * (freq + 200 * t) * t) + 0.05 * rng.standard_normal(n)
    return signal.astype(np.float32)


def write_wav(path, seconds, kind="sine", freq=220.0, seed=0, sample_rate=16000):
    """Writes a test signal as a 16-bit WAV; returns the path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    soundfile.write(path, make_signal(seconds, kind, freq, seed, sample_rate), sample_rate,
                    subtype="PCM_16")
    return path


def funasr_frame_features(model_dir, signals):
    """What ``AutoModel.generate(..., granularity="frame")`` returns, per signal.

    Runs FunASR itself (one utterance at a time, as it does), keeping the
    global thread count and RNG state it would otherwise change.
    """
    from speechbrain_ptssnn.upstreams.funasr_loading import import_funasr, preserved_process_state

    import_funasr()
    from funasr import AutoModel

    with preserved_process_state():
        model = AutoModel(model=str(model_dir), disable_update=True, device="cpu",
                          ncpu=torch.get_num_threads(), disable_pbar=True)
        results = model.generate([np.asarray(s, dtype=np.float32) for s in signals],
                                 granularity="frame")
    return [torch.from_numpy(np.asarray(r["feats"])) for r in results]


def block_downloads(monkeypatch):
    """Makes every hub download fail at once, as it does offline (no retries)."""
    from speechbrain_ptssnn.upstreams.funasr_loading import import_funasr

    import_funasr()
    import funasr.download.download_model_from_hub as hub

    def offline(model, *args, **kwargs):
        raise ConnectionError(f"Failed to resolve host for {model} (offline test)")

    monkeypatch.setattr(hub, "get_or_download_model_dir", offline)
    monkeypatch.setattr(hub, "get_or_download_model_dir_hf", offline)
