"""The on-disk feature cache: computed once, never stale, robust to corruption."""

import logging
import os

import numpy as np
import pytest
import torch
from emotion2vec_fixtures import TINY_CONF, make_model_dir, write_wav

from speechbrain_ptssnn.dataprep.audio import load_audio
from speechbrain_ptssnn.features import FeatureCache
from speechbrain_ptssnn.upstreams import (
    Emotion2vec,
    PrecomputedFeatures,
    WaveformFeatures,
    round_to_storage_dtype,
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    return Emotion2vec(make_model_dir(tmp_path_factory.mktemp("e2v_tiny"), TINY_CONF))


@pytest.fixture
def wavs(tmp_path):
    return [
        write_wav(str(tmp_path / "audio" / "a.wav"), 1.0, "sine", 220),
        write_wav(str(tmp_path / "audio" / "b.wav"), 0.6, "noise", seed=1),
        write_wav(str(tmp_path / "audio" / "sub" / "c.wav"), 1.4, "chirp", seed=2),
    ]


class Counter:
    """Counts calls of the backbone of an Emotion2vec lobe."""

    def __init__(self, monkeypatch, upstream):
        self.calls = 0
        original = upstream.backbone.extract_features

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(upstream.backbone, "extract_features", counted)


def _entries(folder):
    return sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.endswith(".pt")
    )


def test_second_pass_calls_the_backbone_zero_times(tmp_path, wavs, upstream, monkeypatch):
    counter = Counter(monkeypatch, upstream)
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    assert cache.fill(wavs + wavs[:1]) == {"total": 3, "cached": 0, "computed": 3, "recomputed": 0}
    assert counter.calls == 3
    first = [cache.load(w) for w in wavs]

    again = FeatureCache(upstream, tmp_path / "cache", progress=False)  # a new run
    assert again.fill(wavs) == {"total": 3, "cached": 3, "computed": 0, "recomputed": 0}
    second = [again.load(w) for w in wavs]
    assert counter.calls == 3
    for a, b, wav in zip(first, second, wavs):
        assert torch.equal(a, b) and a.dtype == torch.float32
        direct, _ = upstream(load_audio(wav).unsqueeze(0))
        assert a.shape == (upstream.num_frames(len(load_audio(wav))), 64)
        assert torch.equal(a, round_to_storage_dtype(direct[0], "float16"))
    assert len(_entries(cache.folder)) == 3
    assert os.path.isfile(os.path.join(cache.folder, "identity.json"))
    assert not [n for _, _, names in os.walk(cache.folder) for n in names if n.endswith(".tmp")]


def test_load_computes_missing_entries_once(tmp_path, wavs, upstream, monkeypatch):
    counter = Counter(monkeypatch, upstream)
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    feats = cache.load(wavs[1])
    assert counter.calls == 1 and feats.shape == (29, 64)
    assert torch.equal(cache.load(wavs[1]), feats) and counter.calls == 1


def test_changed_model_identity_recomputes(tmp_path, wavs, upstream):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    cache.fill(wavs)
    other = Emotion2vec(make_model_dir(tmp_path / "other_model", TINY_CONF, seed=7))
    other_cache = FeatureCache(other, tmp_path / "cache", progress=False)
    assert other_cache.folder != cache.folder
    assert other_cache.fill(wavs)["computed"] == 3
    assert not torch.equal(other_cache.load(wavs[0]), cache.load(wavs[0]))
    # The storage dtype is part of the identity too.
    as_float32 = FeatureCache(upstream, tmp_path / "cache", storage_dtype="float32", progress=False)
    assert as_float32.fill(wavs)["computed"] == 3
    exact, _ = upstream(load_audio(wavs[0]).unsqueeze(0))
    assert torch.equal(as_float32.load(wavs[0]), exact[0])


def test_touched_audio_recomputes(tmp_path, wavs, upstream, monkeypatch):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    cache.fill(wavs)
    old = cache.load(wavs[0])
    counter = Counter(monkeypatch, upstream)

    stat = os.stat(wavs[1])  # same content, new modification time
    os.utime(wavs[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    write_wav(wavs[0], 1.0, "noise", seed=9)  # new content
    os.utime(wavs[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 9_000_000_000))
    assert cache.fill(wavs) == {"total": 3, "cached": 1, "computed": 2, "recomputed": 0}
    assert counter.calls == 2
    assert not torch.equal(cache.load(wavs[0]), old)
    assert len(_entries(cache.folder)) == 3  # the stale versions were removed


def test_truncated_entry_is_recomputed_with_a_warning(
    tmp_path, wavs, upstream, caplog, monkeypatch
):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    cache.fill(wavs)
    good = cache.load(wavs[2])
    entry = cache.entry_path(wavs[2])
    with open(entry, "r+b") as f:
        f.truncate(os.path.getsize(entry) // 2)
    counter = Counter(monkeypatch, upstream)
    with caplog.at_level(logging.WARNING, logger="speechbrain_ptssnn.features.cache"):
        feats = cache.load(wavs[2])
    assert torch.equal(feats, good) and counter.calls == 1
    assert any("corrupt" in r.message and entry in r.message for r in caplog.records)
    assert torch.equal(cache.load(wavs[2]), good) and counter.calls == 1

    # fill() notices truncation too, before training starts.
    caplog.clear()
    with open(entry, "r+b") as f:
        f.truncate(100)
    with caplog.at_level(logging.WARNING, logger="speechbrain_ptssnn.features.cache"):
        counts = cache.fill(wavs)
    assert counts == {"total": 3, "cached": 2, "computed": 0, "recomputed": 1}
    assert any("truncated or corrupt" in r.message for r in caplog.records)
    assert torch.equal(cache.load(wavs[2]), good)

    # A readable entry whose contents are wrong is caught on load.
    caplog.clear()
    torch.save({"format": "speechbrain_ptssnn.features/1", "feats": torch.zeros(3, 5).half(),
                "shape": [3, 5], "audio": {"path": os.path.abspath(wavs[2])}}, entry)
    with caplog.at_level(logging.WARNING, logger="speechbrain_ptssnn.features.cache"):
        assert torch.equal(cache.load(wavs[2]), good)
    assert any("corrupt" in r.message for r in caplog.records)


def test_a_bit_flipped_cache_entry_is_recomputed_with_a_warning(tmp_path, wavs, caplog):
    from speechbrain.lobes.features import Fbank

    cache = FeatureCache(WaveformFeatures(Fbank(n_mels=40)), tmp_path / "cache", progress=False)
    cache.fill(wavs)
    good = cache.load(wavs[0])
    entry = cache.entry_path(wavs[0])
    raw = open(entry, "rb").read()
    stored = good.to(torch.float16).numpy().tobytes()
    start = raw.index(stored)  # the tensor's bytes, stored as they are inside the zip
    nan = np.full(10, np.nan, dtype=np.float16).tobytes()
    with open(entry, "r+b") as stream:  # ten values turned to NaN, the container still valid
        stream.seek(start + 200)
        stream.write(nan)
    served = torch.load(entry, weights_only=True)["feats"]
    assert int(torch.isnan(served).sum()) == 10  # what the entry alone would give
    with caplog.at_level(logging.WARNING, logger="speechbrain_ptssnn.features.cache"):
        again = cache.load(wavs[0])
    assert torch.equal(again, good) and bool(torch.isfinite(again).all())
    assert any(entry in r.message and "does not match its checksum" in r.message
               for r in caplog.records)
    assert torch.equal(torch.load(entry, weights_only=True)["feats"].float(), good)  # rewritten


def test_non_finite_features_are_never_cached(tmp_path, wavs):
    class Broken(torch.nn.Module):
        def forward(self, feats):
            out = torch.zeros(feats.shape[0], 50, 8)
            out[:, :3] = float("nan")
            return out

    cache = FeatureCache(WaveformFeatures(Broken(), output_size=8), tmp_path / "cache",
                         progress=False)
    with pytest.raises(ValueError, match=f"{wavs[0]}: the upstream's features hold 24 non-finite"):
        cache.fill(wavs[:1])
    assert _entries(cache.folder) == []


def test_interrupted_write_leaves_no_entry(tmp_path, wavs, upstream, monkeypatch):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)

    def crash(obj, f, *args, **kwargs):
        f.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.fill(wavs[:1])
    monkeypatch.undo()
    assert _entries(cache.folder) == []
    assert not [n for _, _, names in os.walk(cache.folder) for n in names if n.endswith(".tmp")]
    assert cache.fill(wavs[:1])["computed"] == 1


def test_entries_load_with_weights_only(tmp_path, wavs, upstream):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    cache.fill(wavs[:1])
    data = torch.load(cache.entry_path(wavs[0]), weights_only=True)
    assert data["feats"].dtype == torch.float16 and list(data["feats"].shape) == data["shape"]
    assert data["audio"]["path"] == os.path.abspath(wavs[0])


def test_ranks_split_the_work(tmp_path, wavs, upstream, monkeypatch):
    counter = Counter(monkeypatch, upstream)
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    shares = [cache.fill(wavs, rank=r, world_size=2) for r in range(2)]
    assert [s["computed"] for s in shares] == [2, 1] and counter.calls == 3
    assert cache.fill(wavs)["cached"] == 3 and counter.calls == 3


def test_fbank_upstream_through_the_cache(tmp_path, wavs):
    from speechbrain.lobes.features import Fbank

    cache = FeatureCache(WaveformFeatures(Fbank(n_mels=40)), tmp_path / "cache", progress=False)
    assert cache.fill(wavs)["computed"] == 3
    assert cache.load(wavs[0]).shape == (101, 40)
    other = FeatureCache(WaveformFeatures(Fbank(n_mels=20)), tmp_path / "cache", progress=False)
    assert other.folder != cache.folder and other.load(wavs[0]).shape == (101, 20)


def test_missing_audio_is_named(tmp_path, upstream):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    missing = str(tmp_path / "audio" / "none.wav")
    with pytest.raises(FileNotFoundError, match="none.wav"):
        cache.fill([missing])


def test_precomputed_has_the_same_interface(tmp_path, wavs, upstream):
    cache = FeatureCache(upstream, tmp_path / "cache", progress=False)
    cache.fill(wavs)
    # Export the cache as a precomputed tree, read it back: same features.
    data_folder = os.path.dirname(wavs[0])
    for wav in wavs:
        target = tmp_path / "npy" / os.path.relpath(wav, data_folder)
        target = target.with_suffix(".npy")
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, cache.load(wav).numpy())
    precomputed = PrecomputedFeatures(tmp_path / "npy", data_folder, cache.output_size)
    assert precomputed.fill(wavs)["total"] == 3
    for wav in wavs:
        assert torch.equal(precomputed.load(wav), cache.load(wav))
