"""Deployment: ONNX and NIR exports, calibrated probabilities, emotion over time on long audio.

One miniature model is trained through the EMODB recipe on a generated corpus
with the filterbank upstream (waveform in, no download) and exported with
``--onnx --nir``; most tests use that folder.
"""

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from test_inference import LABELS, build_voiced_emodb, tone, write

from speechbrain_ptssnn import export as export_module
from speechbrain_ptssnn.inference import EmotionRecognizer, main
from speechbrain_ptssnn.lobes import PLIF, PTSSNN
from speechbrain_ptssnn.metrics import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "EMODB" / "train.py"
HPARAMS = REPO / "hparams" / "ptssnn.yaml"

pytest.importorskip("onnxruntime")
pytest.importorskip("nirtorch")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A finished one-fold filterbank run, exported with --onnx --nir, and its PyTorch export."""
    root = tmp_path_factory.mktemp("deployed")
    data = build_voiced_emodb(root / "emodb")
    run = root / "run"
    command = [
        sys.executable, str(RECIPE), str(HPARAMS), f"--data_folder={data}",
        f"--output_folder={run}", f"--feature_cache_folder={run}/cache", "--upstream=fbank",
        "--input_size=20", "--hidden_sizes=[16, 8]", "--bias_hidden_size=4", "--batch_size=8",
        "--n_folds=2", "--fold=1", "--number_of_epochs=3", "--v_threshold=0.1", "--lr=0.003",
        "--device=cpu",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    exported = root / "exported"
    assert export_module.main([str(run), str(exported), "--fold", "1", "--onnx", "--nir"]) == 0
    plain = root / "plain"
    export_module.export_run(run, plain, fold=1)
    return {"root": root, "run": run, "exported": exported, "plain": plain}


@pytest.fixture(scope="module")
def models(deployed):
    """The export through onnxruntime and through PyTorch, and the plain export."""
    load = functools.partial(EmotionRecognizer.from_hparams, run_opts={"device": "cpu"})
    return {"onnx": load(str(deployed["exported"])),
            "torch": load(str(deployed["exported"]), backend="torch"),
            "plain": load(str(deployed["plain"]))}


def _test_wavs(deployed):
    fold = deployed["run"] / "fold_1"
    return [entry["wav"] for entry in json.loads((fold / "test.json").read_text()).values()]


# ------------------------------------------------------------------- ONNX
def test_the_torch_plif_backend_gives_the_training_spikes_and_gradients():
    torch.manual_seed(0)
    x = torch.randn(3, 120, 32) * 1.5
    mask = torch.ones(3, 120, dtype=torch.bool)
    mask[2, 70:] = False
    upstream = torch.randn(3, 120, 32)
    results = {}
    for backend in ("spikingjelly", "fused", "torch"):
        for decay_input in (True, False):
            torch.manual_seed(1)
            layer = PLIF(backend=backend, init_tau=2.5, decay_input=decay_input)
            current = x.clone().requires_grad_()
            spikes = layer(current, mask)
            (spikes * upstream).sum().backward()
            with torch.no_grad():
                inference = layer(x, mask)
            results[backend, decay_input] = (spikes.detach(), inference, current.grad,
                                             layer.node.w.grad)
    for decay_input in (True, False):
        reference = results["spikingjelly", decay_input]
        assert reference[0].sum() > 100
        for backend in ("fused", "torch"):
            got = results[backend, decay_input]
            assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[0])
            assert torch.allclose(got[2], reference[2], atol=1e-5)
            assert torch.allclose(got[3], reference[3], rtol=1e-4, atol=1e-5)
    plain = PLIF(backend="torch")
    assert list(plain.state_dict()) == list(PLIF().state_dict()) == ["node.w"]


def test_onnx_export_gives_pytorchs_labels_on_the_test_fold(deployed, models, tmp_path):
    from speechbrain_ptssnn.export.onnx_export import compare_onnx

    folder = deployed["exported"]
    assert {"adapter.onnx", "adapter.nir", "adapter_nir.json"} <= set(os.listdir(folder))
    model = models["torch"]
    feats = [model.compute_features(model.load_audio(path)) for path in _test_wavs(deployed)]
    batches = []
    for start in range(0, len(feats), 5):  # padded batches of several lengths
        group = feats[start : start + 5]
        longest = max(f.shape[0] for f in group)
        padded = torch.zeros(len(group), longest, group[0].shape[1])
        for i, f in enumerate(group):
            padded[i, : f.shape[0]] = f
        batches.append((padded, torch.tensor([f.shape[0] / longest for f in group])))
    result = compare_onnx(model.mods.adapter, batches, str(tmp_path))
    assert result["utterances"] == len(feats) == result["labels_equal"]
    assert result["max_logit_difference"] < 1e-5
    assert result["spikes"] > 500
    assert result["flipped_spikes"] <= result["spikes"] // 1000, result
    expected = [models["plain"].classify_file(path)[3][0] for path in _test_wavs(deployed)]
    assert [models["onnx"].classify_file(path)[3][0] for path in _test_wavs(deployed)] == expected


def test_the_onnx_export_classifies_without_spikingjelly_or_numba(deployed, models, tmp_path):
    hparams = (deployed["exported"] / "hyperparams.yaml").read_text()
    assert "adapter_backend: \"onnx\"" in hparams and "spikingjelly" not in hparams
    wav = write(tmp_path / "a.wav", tone(0.9, freq=260.0), 16000)
    script = textwrap.dedent(f"""
        import importlib.abc, json, sys

        class Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("spikingjelly", "numba"):
                    raise ImportError("blocked: " + name)

        sys.meta_path.insert(0, Blocked())
        from speechbrain_ptssnn.inference import EmotionRecognizer

        model = EmotionRecognizer.from_hparams({str(deployed["exported"])!r},
                                               run_opts={{"device": "cpu"}})
        result = model.predict_file({str(wav)!r})
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("spikingjelly", "numba"))
        print(json.dumps({{"backend": model.adapter_backend, "label": result["label"],
                          "probabilities": result["probabilities"], "loaded": loaded}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "onnx" and result["loaded"] == []
    expected = models["plain"].predict_file(wav)
    assert result["label"] == expected["label"]
    assert result["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)


def test_the_backend_can_be_chosen_at_load_time_and_on_the_command_line(deployed, models,
                                                                        tmp_path, capsys):
    wav = write(tmp_path / "b.wav", tone(0.7, freq=190.0), 16000)
    assert models["torch"].adapter_backend == "torch"
    onnx_logits = models["onnx"].compute_logits(models["onnx"].load_audio(wav).unsqueeze(0))
    torch_logits = models["torch"].compute_logits(models["torch"].load_audio(wav).unsqueeze(0))
    assert torch.allclose(onnx_logits, torch_logits, atol=1e-5)
    with pytest.raises(ValueError, match="has no adapter.onnx: export it with --onnx"):
        models["plain"].adapter_backend = "onnx"
    for backend in ("onnx", "torch"):
        assert main(["--source", str(deployed["exported"]), "--backend", backend, "--json",
                     "--threads", "1", str(wav)]) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["results"][0]["label"] == models["plain"].predict_file(wav)["label"]


# -------------------------------------------------------------------- NIR
def test_the_nir_round_trip_reproduces_the_spikes_of_the_exported_part(deployed, models):
    from speechbrain_ptssnn.export.nir_export import compare_nir, generated_utterance

    split = json.loads((deployed["exported"] / "adapter_nir.json").read_text())
    assert split["whole"] is False and len(split["chip"]) == 2
    assert any("attention" in part for part in split["host"])
    assert split["output"] == {"channels": 8, "lag": 1, "what": split["output"]["what"]}
    assert split["round_trip"]["flipped_spikes"] == 0
    adapter = models["torch"].mods.adapter
    utterances = [generated_utterance(20, frames, seed=frames) * 3 for frames in (3, 50, 140)]
    utterances.append(models["torch"].compute_features(models["torch"].load_audio(
        _test_wavs(deployed)[0])))
    for importer in ("nirtorch", "spikingjelly"):
        result = compare_nir(adapter, deployed["exported"] / "adapter.nir", utterances, importer)
        assert result["spikes"] > 100, result
        assert result["flipped_spikes"] == 0, result
        assert result["labels_equal"] == len(utterances)
        assert result["max_logit_difference"] < 1e-6
    card = (deployed["exported"] / "README.md").read_text()
    assert "| chip (NIR graph) |" in card and "| host |" in card


def test_a_low_rank_projection_and_the_channel_norm_export_to_nir(tmp_path):
    # the low-rank projection goes to the chip as its product, the channel norm stays on the host
    from speechbrain_ptssnn.export.nir_export import compare_nir, generated_utterance, write_nir

    torch.manual_seed(0)
    adapter = PTSSNN(12, 3, hidden_sizes=(10, 6), bias_hidden_size=4, input_projection_rank=3,
                     input_channel_norm=True, projection_shortcuts=False,
                     neuron=functools.partial(PLIF, v_threshold=0.2))
    with torch.no_grad():  # batch-norm statistics of real currents, so that the neurons fire
        for _ in range(40):
            adapter(torch.randn(8, 60, 12))
    adapter.eval()
    write_nir(adapter, tmp_path / "low_rank.nir")
    utterances = [generated_utterance(12, 60, seed=s) for s in range(2)]
    result = compare_nir(adapter, tmp_path / "low_rank.nir", utterances)
    assert result["spikes"] > 50 and result["flipped_spikes"] == 0
    assert result["labels_equal"] == 2


@pytest.mark.parametrize("readout", ["rate", "membrane"])
def test_the_vanilla_snn_is_exported_whole(tmp_path, readout):
    from speechbrain_ptssnn.export.nir_export import compare_nir, generated_utterance, write_nir

    torch.manual_seed(0)
    adapter = PTSSNN(12, 3, hidden_sizes=(10,), variant="vanilla", readout=readout).eval()
    split = write_nir(adapter, tmp_path / "vanilla.nir")
    assert split["whole"] is True and split["parameters"]["host"] == 0
    assert split["output"]["channels"] == 13 and split["output"]["lag"] == 0
    utterances = [generated_utterance(12, 60, seed=s) * 4 for s in range(2)]
    result = compare_nir(adapter, tmp_path / "vanilla.nir", utterances)
    assert result["spikes"] > 50 and result["flipped_spikes"] == 0
    assert result["labels_equal"] == 2 and result["max_logit_difference"] < 1e-6


# ------------------------------------------------------------ calibration
def _train_miniature(seed=0, steps=60):
    """A miniature PTS-SNN trained on separable generated features."""
    generator = torch.Generator().manual_seed(seed)
    means = torch.randn(3, 16, generator=generator) * 1.5

    def sample(n):
        labels = torch.randint(0, 3, (n,), generator=generator)
        feats = means[labels][:, None, :] + torch.randn(n, 24, 16, generator=generator) * 8.0
        return feats, labels

    torch.manual_seed(seed)
    adapter = PTSSNN(16, 3, hidden_sizes=(16, 8), bias_hidden_size=4)
    optimizer = torch.optim.Adam(adapter.parameters(), lr=0.01)
    for _ in range(steps):
        feats, labels = sample(16)
        loss = torch.nn.functional.cross_entropy(adapter(feats) * 10, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    adapter.eval()
    with torch.no_grad():
        valid, test = sample(120), sample(200)
        return adapter(valid[0]), valid[1], adapter(test[0]), test[1]


def test_temperature_fitting_lowers_the_held_out_nll_of_a_miniature_model():
    valid_logits, valid_targets, test_logits, test_targets = _train_miniature()
    accuracy = float((test_logits.argmax(-1) == test_targets).float().mean())
    assert accuracy > 0.6
    temperature = fit_temperature(valid_logits, valid_targets)
    assert 0 < temperature < 1  # rates in [0, 1]: the softmax needs sharpening
    plain = fit_temperature(valid_logits, valid_targets, smoothing=False)
    for t in (plain * 0.8, plain * 1.25):  # the minimum of the NLL it was fitted on
        assert (negative_log_likelihood(valid_logits, valid_targets, plain)
                < negative_log_likelihood(valid_logits, valid_targets, t))
    assert plain < temperature  # Platt's targets temper the sharpening
    perfect = valid_targets == valid_logits.argmax(-1)
    assert fit_temperature(valid_logits[perfect], valid_targets[perfect]) > 1e-3
    before = negative_log_likelihood(test_logits, test_targets)
    after = negative_log_likelihood(test_logits, test_targets, temperature)
    assert after < before - 0.1
    ece_before = expected_calibration_error(torch.softmax(test_logits, -1), test_targets)
    ece_after = expected_calibration_error(torch.softmax(test_logits / temperature, -1),
                                           test_targets)
    assert ece_after < ece_before


def test_each_fold_stores_its_temperature_and_the_export_uses_it(deployed, models, tmp_path):
    calibration = json.loads((deployed["run"] / "fold_1" / "calibration.json").read_text())
    temperature = calibration["temperature"]
    assert calibration["fitted_on"] == "valid" and calibration["bins"] == 10
    assert calibration["valid"]["nll_after"] <= calibration["valid"]["nll_before"]
    assert calibration["test"]["count"] == len(_test_wavs(deployed))
    for key in ("ece_before", "ece_after", "nll_before", "nll_after"):
        assert np.isfinite(calibration["test"][key])
    hparams = (deployed["plain"] / "hyperparams.yaml").read_text()
    assert f"temperature: {temperature!r}" in hparams or f"temperature: {temperature}" in hparams
    model = models["plain"]
    assert model.temperature == pytest.approx(temperature)
    wav = write(tmp_path / "c.wav", tone(0.8, freq=330.0), 16000)
    logits = model.compute_logits(model.load_audio(wav).unsqueeze(0))
    out_prob, score, index, label = model.classify_file(wav)
    assert torch.allclose(out_prob, torch.log_softmax(logits / temperature, dim=-1), atol=1e-6)
    assert float(score[0]) == pytest.approx(float(out_prob[0].max()))
    assert float(out_prob[0].exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert label == [model.labels[int(index[0])]]
    entry = model.predict_file(wav)
    assert entry["probabilities"] == pytest.approx(
        dict(zip(model.labels, out_prob[0].exp().tolist())), abs=1e-6)
    assert entry["score"] == pytest.approx(entry["probabilities"][entry["label"]])
    card = (deployed["plain"] / "README.md").read_text()
    assert "expected calibration error (10 bins)" in card


# ------------------------------------------------------------- long audio
_MEMORY_SCRIPT = """
import json, sys
import torch
from speechbrain.lobes.features import Fbank
from speechbrain_ptssnn.dataio import label_encoder_for
from speechbrain_ptssnn.inference import EmotionRecognizer
from speechbrain_ptssnn.lobes import PTSSNN
from speechbrain_ptssnn.upstreams import WaveformFeatures

def status(field):  # Linux: /proc/self/status in kB
    with open("/proc/self/status") as stream:
        return next(int(line.split()[1]) * 1024 for line in stream if line.startswith(field))

def peak():
    return status("VmHWM:")

torch.manual_seed(0)
modules = {"upstream": WaveformFeatures(Fbank(n_mels=20)),
           "adapter": PTSSNN(20, 3, hidden_sizes=(16, 8), bias_hidden_size=4)}
hparams = {"label_encoder": label_encoder_for(["angry", "happy", "sad"]),
           "storage_dtype": "float16", "temperature": 0.1}
model = EmotionRecognizer(modules, hparams, run_opts={"device": "cpu"})
model.classify_file(sys.argv[2], segment_seconds=2.0, hop_seconds=1.5)  # warm-up
model.load_audio(sys.argv[2])
with open("/proc/self/clear_refs", "w") as stream:
    # resets the peak (VmHWM) to the present resident size: warm-up peaks drop out
    stream.write("5")
base = status("VmRSS:")
if sys.argv[3] == "segments":
    result = {"segments": model.classify_file(sys.argv[1], segment_seconds=2.0, hop_seconds=1.5)}
else:  # what loading the whole file costs, in a process of its own
    result = {"samples": int(model.load_audio(sys.argv[1]).shape[0])}
result["grew"] = peak() - base
print(json.dumps(result))
"""


def test_segments_of_a_ten_minute_file_cover_it_in_order_with_bounded_memory(tmp_path):
    rate, seconds = 44100, 600
    path = tmp_path / "ten_minutes.wav"
    with soundfile.SoundFile(path, "w", rate, 2, subtype="PCM_16") as out:
        for minute in range(seconds // 60):  # written a minute at a time
            t = np.arange(60 * rate) / rate + 60 * minute
            voice = 0.3 * np.sin(2 * np.pi * (150 + 40 * np.sin(0.1 * t)) * t)
            out.write(np.stack([voice, 0.5 * voice], axis=1).astype("float32"))
    warm = write(tmp_path / "warm.wav", tone(5.0), 16000)
    script = tmp_path / "classify.py"
    script.write_text(_MEMORY_SCRIPT)
    runs = {}
    for mode in ("segments", "whole"):
        done = subprocess.run([sys.executable, str(script), str(path), str(warm), mode],
                              capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, OMP_NUM_THREADS="1"))
        assert done.returncode == 0, done.stderr[-3000:]
        runs[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    segments = runs["segments"]["segments"]
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts) and starts[0] == 0.0
    assert segments[-1]["end"] == pytest.approx(seconds)
    assert all(b["start"] <= a["end"] for a, b in zip(segments, segments[1:]))  # no gaps
    assert all(s["end"] - s["start"] == pytest.approx(2.0, abs=1e-4) for s in segments)
    assert len(segments) == 400  # starts every 1.5 s; the last one aligned with the end
    assert all(sum(s["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
               for s in segments)
    assert runs["whole"]["samples"] == seconds * 16000
    whole_file = seconds * rate * 2 * 4  # the float32 samples soundfile reads at once
    assert runs["whole"]["grew"] > 0.3 * whole_file, runs["whole"]  # the peak sees a load
    assert runs["segments"]["grew"] < 0.1 * whole_file, runs["segments"]["grew"]


def test_the_console_script_prints_segments_and_plots_them(deployed, tmp_path, capsys):
    signal = np.concatenate([tone(2.5, freq=170.0), tone(2.0, freq=420.0)])
    wav = write(tmp_path / "long.wav", signal, 16000)
    source = str(deployed["plain"])
    plot = tmp_path / "emotions.png"
    assert main(["--source", source, "--segment", "1", "--hop", "0.5", "--json",
                 "--plot", str(plot), str(wav), str(tmp_path / "absent.wav")]) == 1
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"source", "labels", "results"}
    first, missing = document["results"]
    assert missing["file"].endswith("absent.wav") and "error" in missing
    assert first["file"] == str(wav) and first["label"] in LABELS
    segments = first["segments"]
    assert [set(s) for s in segments] == [{"start", "end", "label", "probabilities"}] * 8
    assert [s["start"] for s in segments] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert segments[-1]["end"] == pytest.approx(4.5)
    model = EmotionRecognizer.from_hparams(source, run_opts={"device": "cpu"})
    direct = model.classify_file(wav, segment_seconds=1.0, hop_seconds=0.5)
    assert [s["label"] for s in direct] == [s["label"] for s in segments]
    mean = np.mean([list(s["probabilities"].values()) for s in segments], axis=0)
    assert first["label"] == LABELS[int(np.argmax(mean))]
    assert plot.stat().st_size > 1000
    assert main(["--source", source, "--segment", "2", str(wav)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith(f"{wav}\t") and table[1].split()[:3] == ["start", "end", "label"]
    assert len(table) == 2 + 3 and table[2].split()[:2] == ["0.00", "2.00"]


def test_a_plain_torch_layer_runs_on_every_backend():
    torch.manual_seed(0)
    current = torch.randn(2, 50, 6) * 2
    reference = PLIF()(current)
    plain = PLIF(backend="torch")
    for backend in ("torch", "auto", "fused"):
        plain.backend = backend  # a TorchPLIFNode: fused where it applies, else plain torch
        assert torch.equal(plain(current), reference)
