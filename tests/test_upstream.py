"""The emotion2vec upstream, the other upstreams and the feature-source factory.

Offline: emotion2vec's real FunASR architecture with random weights, written in
the on-disk format FunASR loads and loaded back through ``funasr.AutoModel``.
"""

import os
import random
import time

import numpy as np
import pytest
import torch
from emotion2vec_fixtures import (
    BASE_CONF,
    TINY_CONF,
    block_downloads,
    funasr_frame_features,
    make_model_dir,
    make_signal,
)

from speechbrain_ptssnn.features import build_feature_source, make_feature_source
from speechbrain_ptssnn.upstreams import (
    Emotion2vec,
    PrecomputedFeatures,
    WaveformFeatures,
    state_fingerprint,
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model_dir(tmp_path_factory.mktemp("e2v_tiny"), TINY_CONF)


@pytest.fixture(scope="module")
def upstream(model_dir):
    return Emotion2vec(model_dir)


def _pad(signals, garbage=0.0):
    max_len = max(len(s) for s in signals)
    batch = torch.full((len(signals), max_len), garbage)
    for i, s in enumerate(signals):
        batch[i, : len(s)] = torch.from_numpy(s)
    lens = torch.tensor([len(s) / max_len for s in signals])
    return batch, lens


def test_about_50_frames_per_second(upstream):
    for seconds, frames in ((1.0, 49), (2.0, 99), (0.5, 24), (3.2, 159)):
        wav = torch.from_numpy(make_signal(seconds, "noise"))
        feats, lens = upstream(wav.unsqueeze(0))
        assert feats.shape == (1, frames, 64)
        assert upstream.num_frames(len(wav)) == frames
        assert lens.tolist() == [1.0]
    assert upstream.output_size == 64 and upstream.frame_rate == 50
    with pytest.raises(ValueError, match="at least 400 samples"):
        upstream(torch.zeros(1, 399))


def test_equals_funasr_generate_per_utterance_batched_or_not(model_dir, upstream):
    signals = [
        make_signal(1.0, "sine", 220),
        make_signal(0.43, "noise", seed=1),
        make_signal(2.1, "chirp", 150, seed=2),
        make_signal(1.7, "noise", seed=3),
    ]
    reference = funasr_frame_features(model_dir, signals)
    assert [r.shape[0] for r in reference] == [upstream.num_frames(len(s)) for s in signals]

    for signal, ref in zip(signals, reference):  # one at a time
        feats, _ = upstream(torch.from_numpy(signal).unsqueeze(0))
        torch.testing.assert_close(feats[0], ref, atol=1e-4, rtol=0)

    # Batched, with garbage in the padding: it must not leak into any utterance.
    batch, lens = _pad(signals, garbage=0.7)
    feats, feat_lens = upstream(batch, lens)
    max_frames = max(r.shape[0] for r in reference)
    assert feats.shape == (4, max_frames, 64)
    for i, ref in enumerate(reference):
        n = int(round(feat_lens[i].item() * feats.shape[1]))
        assert n == ref.shape[0]
        torch.testing.assert_close(feats[i, :n], ref, atol=1e-4, rtol=0)
        assert torch.all(feats[i, n:] == 0)


def test_frozen_through_adapter_training(upstream):
    backbone = upstream.backbone
    before = state_fingerprint(backbone.state_dict())
    adapter = torch.nn.Linear(upstream.output_size, 4)
    modules = torch.nn.ModuleDict({"upstream": upstream, "adapter": adapter})
    assert list(upstream.parameters()) == [] and upstream.state_dict() == {}
    assert set(modules.state_dict()) == {"adapter.weight", "adapter.bias"}
    optimizer = torch.optim.SGD(modules.parameters(), lr=0.5)
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == 64 * 4 + 4

    wavs, lens = _pad([make_signal(1.0, "noise"), make_signal(0.6, "sine")])
    for _ in range(2):
        modules.train()  # what SpeechBrain's fit does every epoch
        assert not backbone.training and not any(m.training for m in backbone.modules())
        feats, feat_lens = upstream(wavs, lens)
        assert not feats.requires_grad
        again, _ = upstream(wavs, lens)
        assert torch.equal(feats, again)  # no dropout, no layer drop
        loss = adapter(feats).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert adapter.weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in backbone.parameters())
    assert state_fingerprint(backbone.state_dict()) == before


def test_device_moves_reach_the_hidden_backbone(upstream):
    upstream.to(torch.float64)
    try:
        assert next(upstream.backbone.parameters()).dtype == torch.float64
    finally:
        upstream.to(torch.float32)
    assert upstream.device == torch.device("cpu")


def test_loading_keeps_global_state(model_dir):
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    expected = (torch.rand(1).item(), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    Emotion2vec(model_dir)  # FunASR reseeds all RNGs and sets the thread count
    assert (torch.rand(1).item(), random.random(), np.random.rand()) == expected
    assert torch.get_num_threads() == threads


def test_identity_follows_the_weights(tmp_path, model_dir, upstream):
    other = Emotion2vec(make_model_dir(tmp_path / "other", TINY_CONF, seed=1))
    assert upstream.identity()["weights"] != other.identity()["weights"]
    assert upstream.identity()["source"] == os.path.abspath(model_dir)
    assert upstream.identity() == Emotion2vec(model_dir).identity()


def test_mismatched_checkpoint_key_fails_naming_it(tmp_path):
    path = make_model_dir(tmp_path / "renamed", TINY_CONF)
    state = torch.load(os.path.join(path, "model.pt"))
    state["blocks.0.attn.qkv_renamed.weight"] = state.pop("blocks.0.attn.qkv.weight")
    torch.save(state, os.path.join(path, "model.pt"))
    with pytest.raises(RuntimeError) as error:
        Emotion2vec(path)
    message = str(error.value)
    assert "missing keys: blocks.0.attn.qkv.weight" in message
    assert "unexpected keys: blocks.0.attn.qkv_renamed.weight" in message

    path = make_model_dir(tmp_path / "reshaped", TINY_CONF)
    state = torch.load(os.path.join(path, "model.pt"))
    state["blocks.1.mlp.fc1.weight"] = state["blocks.1.mlp.fc1.weight"][:10]
    torch.save(state, os.path.join(path, "model.pt"))
    with pytest.raises(RuntimeError, match=r"shape mismatches: blocks\.1\.mlp\.fc1\.weight"):
        Emotion2vec(path)


def test_published_checkpoint_layout_loads(tmp_path):
    # The published model.pt files lack the unused data2vec decoder; a
    # checkpoint that has it (and a "model" wrapper) loads too.
    path = make_model_dir(tmp_path / "full", TINY_CONF, drop_decoder=False)
    state = torch.load(os.path.join(path, "model.pt"))
    torch.save({"model": state}, os.path.join(path, "model.pt"))
    assert Emotion2vec(path).output_size == 64


@pytest.mark.parametrize(
    "source, hub, where",
    [("iic/emotion2vec_base", None, "ModelScope"),
     ("emotion2vec/emotion2vec_base", None, "Hugging Face"),
     ("iic/emotion2vec_plus_large", "ms", "ModelScope")],
)
def test_unreachable_hub_gives_clear_error(monkeypatch, source, hub, where):
    block_downloads(monkeypatch)
    start = time.monotonic()
    with pytest.raises(RuntimeError) as error:
        Emotion2vec(source, hub=hub)
    assert time.monotonic() - start < 10
    message = str(error.value)
    assert f"'{source}' could not be downloaded from {where}" in message
    assert "point at the local directory" in message and "config.yaml and model.pt" in message
    assert "not registered" not in message


def test_missing_local_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        Emotion2vec(str(tmp_path / "nowhere" / "emotion2vec_base"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither config.yaml"):
        Emotion2vec(str(tmp_path / "empty"))


def test_base_config(tmp_path):
    """The one base-size test: architecture, size, 768-dim frames, FunASR parity."""
    path = make_model_dir(tmp_path / "base", BASE_CONF)
    upstream = Emotion2vec(path)
    n_params = sum(p.numel() for n, p in upstream.backbone.named_parameters()
                   if ".decoder." not in n)  # the decoder is not part of the published model
    assert 90e6 < n_params < 98e6
    assert len(upstream.backbone.blocks) == 8
    signal = make_signal(1.0, "chirp")
    feats, _ = upstream(torch.from_numpy(signal).unsqueeze(0))
    assert feats.shape == (1, 49, 768)
    (reference,) = funasr_frame_features(path, [signal])
    torch.testing.assert_close(feats[0], reference, atol=1e-4, rtol=0)


# ------------------------------------------------------------ other upstreams
def test_waveform_features_wraps_fbank():
    from speechbrain.lobes.features import Fbank

    upstream = WaveformFeatures(Fbank(n_mels=40))
    wavs, lens = _pad([make_signal(1.0), make_signal(0.5, "noise")])
    feats, feat_lens = upstream(wavs, lens)
    assert feats.shape == (2, 101, 40) and torch.equal(feat_lens, lens)
    assert not feats.requires_grad
    upstream.train()
    assert not upstream.features.training
    same = WaveformFeatures(Fbank(n_mels=40)).identity()
    assert upstream.identity() == same
    assert WaveformFeatures(Fbank(n_mels=80)).identity() != same
    assert WaveformFeatures(Fbank(n_mels=40, deltas=True)).output_size == 120


def test_precomputed_features(tmp_path):
    data, feats_dir = tmp_path / "data", tmp_path / "feats"
    (feats_dir / "spk").mkdir(parents=True)
    np.save(feats_dir / "spk" / "a.npy", np.random.randn(20, 384).astype(np.float32))
    np.save(feats_dir / "spk" / "b.npy", np.random.randn(7, 384).astype(np.float16))
    source = PrecomputedFeatures(feats_dir, data, 384)
    wavs = [str(data / "spk" / "a.wav"), str(data / "spk" / "b.wav")]
    assert source.fill(wavs)["total"] == 2
    a = source.load(wavs[0])
    assert a.dtype == torch.float32 and a.shape == (20, 384)
    raw = torch.from_numpy(np.load(feats_dir / "spk" / "a.npy"))
    assert torch.equal(a, raw.half().float())  # through the storage dtype
    assert torch.equal(PrecomputedFeatures(feats_dir, data, 384, "float32").load(wavs[0]), raw)
    with pytest.raises(ValueError, match="not under data_folder"):
        source.load(str(tmp_path / "elsewhere.wav"))


def test_precomputed_wrong_dimension_names_the_file(tmp_path):
    (tmp_path / "feats").mkdir()
    np.save(tmp_path / "feats" / "ok.npy", np.zeros((5, 384), np.float32))
    np.save(tmp_path / "feats" / "bad.npy", np.zeros((5, 768), np.float32))
    source = PrecomputedFeatures(tmp_path / "feats", tmp_path / "data", 384)
    wavs = [str(tmp_path / "data" / "ok.wav"), str(tmp_path / "data" / "bad.wav")]
    bad = str(tmp_path / "feats" / "bad.npy")
    with pytest.raises(ValueError, match="wrong shape") as error:
        source.fill(wavs)
    assert bad in str(error.value) and "(5, 768)" in str(error.value)
    with pytest.raises(ValueError, match="wrong shape"):
        source.load(wavs[1])


def test_precomputed_missing_file_names_it(tmp_path):
    (tmp_path / "feats").mkdir()
    source = PrecomputedFeatures(tmp_path / "feats", tmp_path / "data", 384)
    wav = str(tmp_path / "data" / "sub" / "gone.wav")
    expected = str(tmp_path / "feats" / "sub" / "gone.npy")
    with pytest.raises(FileNotFoundError) as error:
        source.fill([wav])
    assert expected in str(error.value)
    with pytest.raises(FileNotFoundError) as error:
        source.load(wav)
    assert expected in str(error.value)


# -------------------------------------------------------------------- factory
def test_factory(tmp_path, model_dir):
    with pytest.raises(ValueError, match="valid upstreams: emotion2vec, precomputed, fbank"):
        build_feature_source("hubert")
    hparams = {"upstream": "emotion2vec", "upstream_source": model_dir, "input_size": 64,
               "features_folder": None, "cache_folder": str(tmp_path / "cache")}
    source = make_feature_source(hparams)
    assert source.output_size == 64 and isinstance(source.upstream, Emotion2vec)
    with pytest.raises(ValueError, match="input_size is 768 but the upstream"):
        make_feature_source(dict(hparams, input_size=768))
    with pytest.raises(ValueError, match="needs features_folder"):
        make_feature_source(dict(hparams, upstream="precomputed"))
    precomputed = make_feature_source(dict(hparams, upstream="precomputed", input_size=384,
                                           features_folder=str(tmp_path / "f"),
                                           data_folder=str(tmp_path / "d")))
    assert isinstance(precomputed, PrecomputedFeatures)

    # A SpeechBrain feature module straight from the hparams (!new:...), cached.
    from speechbrain.lobes.features import Fbank

    fbank = make_feature_source(dict(hparams, upstream=Fbank(n_mels=24), input_size=24))
    assert isinstance(fbank.upstream, WaveformFeatures) and fbank.output_size == 24


def test_autocast_does_not_change_the_features(upstream):
    wav = torch.from_numpy(make_signal(0.8, "chirp")).unsqueeze(0)
    plain, _ = upstream(wav)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        mixed, _ = upstream(wav)
    assert mixed.dtype == torch.float32 and torch.equal(plain, mixed)


def test_feature_module_from_hyperpyyaml(tmp_path):
    from hyperpyyaml import load_hyperpyyaml

    hparams = load_hyperpyyaml(f"""
upstream: !new:speechbrain.lobes.features.Fbank
    n_mels: 32
input_size: 32
cache_folder: {tmp_path / "cache"}
feature_source: !apply:speechbrain_ptssnn.features.build_feature_source
    upstream: !ref <upstream>
    input_size: !ref <input_size>
    cache_folder: !ref <cache_folder>
    progress: False
""")
    import soundfile

    wav = str(tmp_path / "x.wav")
    soundfile.write(wav, make_signal(0.5), 16000)
    for source in (hparams["feature_source"], make_feature_source(hparams, progress=False)):
        source.fill([wav])
        assert source.load(wav).shape == (51, 32)
