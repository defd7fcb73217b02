"""Pretrained models: a trained run exported, loaded like a hub model, classifying audio.

One tiny model is trained through the real EMODB recipe on a generated corpus,
with a random-weight emotion2vec written in FunASR's on-disk format as the
upstream, and exported; every test loads that folder.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from emotion2vec_fixtures import make_model_dir

from speechbrain_ptssnn import export as export_module
from speechbrain_ptssnn.dataprep.audio import load_audio
from speechbrain_ptssnn.inference import EmotionRecognizer, chunk_bounds, main
from speechbrain_ptssnn.lobes.masking import lengths_to_mask, masked_mean

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "EMODB" / "train.py"
HPARAMS = REPO / "hparams" / "ptssnn.yaml"
LABELS = ["angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"]


def build_voiced_emodb(root):
    """EMODB's layout: 4 speakers x 7 emotions x 2 texts, 0.4-0.9 s tones at 3 rates.

    Longer than the recipe tests' files, so the tiny adapter's neurons fire
    and the predictions differ between utterances.
    """
    rates = [16000, 22050, 44100]
    for s, speaker in enumerate(["03", "08", "09", "10"]):
        for e, letter in enumerate("WLEAFTN"):
            for t, text in enumerate(["a01", "b02"]):
                rate = rates[(s + e + t) % 3]
                n = int(rate * (0.4 + 0.1 * ((s + 2 * e + t) % 6)))
                time = np.arange(n) / rate
                rng = np.random.default_rng(100 * s + 10 * e + t)
                f0 = 120 + 60 * e + 10 * s
                voice = np.sin(2 * np.pi * f0 * time * (1 + 0.3 * time))
                envelope = 0.5 + 0.5 * np.sin(2 * np.pi * (2 + e) * time)
                signal = 0.4 * voice * envelope + 0.03 * (1 + e % 3) * rng.standard_normal(n)
                path = root / "wav" / f"{speaker}{text}{letter}a.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                soundfile.write(path, signal.astype("float32"), rate, subtype="PCM_16")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 2-fold run (emotion2vec upstream) and its export."""
    root = tmp_path_factory.mktemp("pretrained")
    data = build_voiced_emodb(root / "emodb")
    upstream = make_model_dir(root / "emotion2vec_tiny")
    run = root / "run"
    command = [
        sys.executable, str(RECIPE), str(HPARAMS), f"--data_folder={data}",
        f"--output_folder={run}", f"--feature_cache_folder={run}/cache",
        "--upstream=emotion2vec", f"--upstream_source={upstream}", "--input_size=64",
        "--hidden_sizes=[16, 8]", "--bias_hidden_size=4", "--batch_size=8", "--n_folds=2",
        # queries and keys narrower than the 8 channels, as the default's 64 of 256
        "--attention_key_dim=4",
        "--number_of_epochs=2", "--v_threshold=0.1", "--lr=0.003", "--device=cpu",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    exported = root / "exported"
    assert export_module.main([str(run), str(exported), "--best"]) == 0
    return {"root": root, "run": run, "exported": exported, "upstream": upstream}


@pytest.fixture(scope="module")
def model(trained):
    return EmotionRecognizer.from_hparams(
        source=str(trained["exported"]), savedir=str(trained["root"] / "savedir"),
        run_opts={"device": "cpu"},
    )


def exported_fold(trained):
    metrics = {k: json.loads((trained["run"] / f"fold_{k}" / "metrics.json").read_text())
               for k in (1, 2)}
    return max(sorted(metrics), key=lambda k: metrics[k]["UA"])


def training_rows(trained):
    fold = trained["run"] / f"fold_{exported_fold(trained)}"
    with open(fold / "predictions.csv") as stream:
        rows = list(csv.DictReader(stream))
    manifest = json.loads((fold / "test.json").read_text())
    return rows, manifest


def write(path, signal, rate):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, signal, rate, subtype="PCM_16")
    return path


def tone(seconds, rate=16000, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)
    return (0.4 * np.sin(2 * np.pi * freq * t) * envelope).astype("float32")


# ---------------------------------------------------------------- export
def test_export_writes_a_hub_ready_folder(trained):
    folder = trained["exported"]
    assert sorted(os.listdir(folder)) == sorted(export_module.FILES)
    state = torch.load(folder / "adapter.ckpt", map_location="cpu", weights_only=True)
    assert isinstance(state, dict) and all(torch.is_tensor(v) for v in state.values())
    assert "classifier.linear.weight" in state
    hparams = (folder / "hyperparams.yaml").read_text()
    for expected in (f'upstream_source: "{trained["upstream"]}"', 'storage_dtype: "float16"',
                     "max_chunk_seconds: 30.0", "n_classes: 7", "v_threshold: 0.1",
                     "pretrainer:", "<pretrained_path>/adapter.ckpt",
                     "<pretrained_path>/label_encoder.txt", "upstream_weights:"):
        assert expected in hparams
    assert (folder / "label_encoder.txt").read_text() == (
        trained["run"] / f"fold_{exported_fold(trained)}" / "label_encoder.txt").read_text()
    card = (folder / "README.md").read_text()
    fold = trained["run"] / f"fold_{exported_fold(trained)}"
    ua = json.loads((fold / "metrics.json").read_text())["UA"]
    for expected in (f"{ua:.2f}", "mean ± std", "EmotionRecognizer.from_hparams", "foreign_class",
                     "ptssnn-classify", "huggingface-cli upload", "HyperPyYAML", "EMO-DB",
                     "Unknown: the upstream was a local directory", "weights_only=True"):
        assert expected in card
    assert "from speechbrain_ptssnn.inference import EmotionRecognizer" in (
        folder / "custom_interface.py").read_text()


def test_export_picks_folds_and_refuses_bad_requests(trained, tmp_path, capsys):
    run = trained["run"]
    # emotion2vec_base gives 768-dim features; the adapter was trained on 64-dim ones
    with pytest.raises(ValueError, match="gives 768-dim features but the adapter was trained on "
                                         "64-dim ones"):
        export_module.export_run(run, tmp_path / "base", upstream_source="iic/emotion2vec_base")
    assert not (tmp_path / "base").exists()
    info = export_module.export_run(run, tmp_path / "fold2", fold=2, repo_id="user/ptssnn-emodb",
                                    upstream_source="user/emotion2vec_tiny")
    assert info["fold"] == 2 and info["labels"] == LABELS
    assert any("feature size of `user/emotion2vec_tiny` is unknown" in w for w in info["warnings"])
    text = (tmp_path / "fold2" / "hyperparams.yaml").read_text()
    assert 'pretrained_path: "user/ptssnn-emodb"' in text
    assert 'upstream_source: "user/emotion2vec_tiny"' in text
    assert "upstream_weights" not in text  # another upstream than the one trained with
    card = (tmp_path / "fold2" / "README.md").read_text()
    assert "huggingface-cli upload user/ptssnn-emodb" in card and "FunASR" in card
    assert export_module.main([str(run), str(tmp_path / "fold2")]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert export_module.main([str(run), str(tmp_path / "x"), "--fold", "3"]) == 1
    assert "has no fold_3" in capsys.readouterr().err
    assert export_module.main([str(tmp_path), str(tmp_path / "y")]) == 1
    assert "not a training run" in capsys.readouterr().err
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run / "fold_1", unfinished / "fold_1")
    shutil.copy(run / "hyperparams.yaml", unfinished)
    (unfinished / "fold_1" / "metrics.json").unlink()
    assert export_module.main([str(unfinished), str(tmp_path / "z"), "--fold", "1"]) == 1
    assert "is not finished" in capsys.readouterr().err


# ------------------------------------------------------------ inference
def test_predictions_equal_the_training_evaluation(trained, model):
    rows, manifest = training_rows(trained)
    assert model.labels == LABELS
    predicted = []
    for row in rows:
        wav = manifest[row["id"]]["wav"]
        log_posteriors, score, index, label = model.classify_file(wav)
        assert log_posteriors.shape == (1, 7) and score.shape == index.shape == (1,)
        expected = torch.tensor([float(row[f"p_{lab}"]) for lab in LABELS])
        assert label == [row["predicted"]], row["id"]
        logits = model.compute_logits(model.load_audio(wav).unsqueeze(0))
        assert torch.allclose(torch.softmax(logits[0], -1), expected, atol=2e-6), row["id"]
        assert torch.allclose(log_posteriors, torch.log_softmax(logits / model.temperature, -1))
        assert float(score[0]) == pytest.approx(float(log_posteriors[0].max()))
        predicted.append(label[0])
    assert len(set(predicted)) > 1, "a degenerate model proves nothing"

    wavs = [load_audio(manifest[row["id"]]["wav"]) for row in rows[:4]]
    batch = torch.zeros(len(wavs), max(w.shape[0] for w in wavs))
    for i, wav in enumerate(wavs):
        batch[i, : wav.shape[0]] = wav
    lens = torch.tensor([w.shape[0] for w in wavs], dtype=torch.float) / batch.shape[1]
    assert model.classify_batch(batch, lens)[3] == [row["predicted"] for row in rows[:4]]


def test_encode_batch_mean_pools_the_calibrated_frames(model, tmp_path):
    wav = torch.from_numpy(tone(0.7))
    embedding = model.encode_batch(wav.unsqueeze(0))
    feats = model.compute_features(wav).unsqueeze(0)
    frames = model.mods.adapter.calibrated_frames(feats, torch.ones(1))
    assert embedding.shape == (1, 8)
    assert torch.allclose(embedding, frames.mean(dim=1), atol=1e-6)
    two = model.encode_batch(torch.stack([wav, torch.cat([wav[:8000], torch.zeros(3200)])]),
                             torch.tensor([1.0, 8000 / 11200]))
    assert torch.allclose(two[0], embedding[0], atol=1e-6)
    short = model.compute_features(wav[:8000]).unsqueeze(0)
    short_frames = model.mods.adapter.calibrated_frames(short, torch.ones(1))
    mask = lengths_to_mask(torch.ones(1), short_frames.shape[1])
    assert torch.allclose(two[1], masked_mean(short_frames, mask)[0], atol=1e-6)


def test_long_audio_is_chunked_and_the_frames_concatenated(model):
    wav = torch.from_numpy(tone(1.0, freq=300.0))
    model.max_chunk_seconds = 0.3
    try:
        feats = model.compute_features(wav)
        bounds = chunk_bounds(16000, 4800)
        pieces = [model.compute_features(wav[a:b]) for a, b in bounds]
        assert len(bounds) == 4 and torch.equal(feats, torch.cat(pieces))
        assert model.classify_batch(wav.unsqueeze(0))[0].shape == (1, 7)
    finally:
        model.max_chunk_seconds = 30.0
    assert model.compute_features(wav).shape[0] == 49


def test_bad_audio_fails_clearly_naming_the_file(model, tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        model.classify_file(missing)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    with pytest.raises(ValueError, match="notes.wav: not a readable audio file"):
        model.classify_file(text)
    empty = write(tmp_path / "empty.wav", np.zeros(0, "float32"), 16000)
    with pytest.raises(ValueError, match="empty.wav: the audio file holds no samples"):
        model.classify_file(empty)
    short = write(tmp_path / "short.wav", tone(0.02), 16000)  # 320 samples < 400
    with pytest.raises(ValueError, match=r"short.wav: the audio is too short: 320 samples"):
        model.classify_file(short)


def test_nan_audio_is_refused_naming_the_file_and_the_count(trained, model, tmp_path, capsys):
    signal = tone(0.5)
    signal[1000:1010] = np.nan
    path = tmp_path / "nan.wav"
    soundfile.write(path, signal, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=f"{path}: the audio holds 10 non-finite samples"):
        model.classify_file(path)
    batch = torch.from_numpy(np.stack([tone(0.5), signal]))
    with pytest.raises(ValueError, match=r"10 non-finite samples \(NaN or infinity\) "
                                         r"\(utterance 1: 10\)"):
        model.classify_batch(batch)
    assert main(["--source", str(trained["exported"]), "--no_progress", str(path)]) == 1
    assert f"error: {path}: the audio holds 10 non-finite samples" in capsys.readouterr().err


def test_a_missing_local_source_says_no_such_folder(tmp_path, capsys):
    good = write(tmp_path / "good.wav", tone(0.5), 16000)
    for source in (tmp_path / "absent", "exported_model", "runs/x/exported"):
        assert main(["--source", str(source), str(good)]) == 2
        err = capsys.readouterr().err
        assert f"ptssnn-classify: error: --source: no such folder: {source}" in err
        assert "HFValidationError" not in err


def test_an_upstream_of_another_width_than_the_adapter_is_refused_at_load():
    from speechbrain.lobes.features import Fbank

    from speechbrain_ptssnn.dataio import label_encoder_for
    from speechbrain_ptssnn.lobes import PTSSNN
    from speechbrain_ptssnn.upstreams import WaveformFeatures

    modules = {"upstream": WaveformFeatures(Fbank(n_mels=40)),
               "adapter": PTSSNN(20, 2, hidden_sizes=(16, 8), bias_hidden_size=4)}
    hparams = {"label_encoder": label_encoder_for(["angry", "sad"]), "storage_dtype": "float16"}
    with pytest.raises(ValueError, match="the upstream gives 40-dim features but the adapter "
                                         "was trained on 20-dim ones"):
        EmotionRecognizer(modules, hparams, run_opts={"device": "cpu"})


def test_an_emotion2vec_run_is_not_exported_with_filterbanks(trained, tmp_path, capsys):
    assert export_module.main([str(trained["run"]), str(tmp_path / "out"), "--upstream",
                               "fbank"]) == 1
    assert ("the adapter was trained on emotion2vec features: --upstream fbank would feed it "
            "features it never saw") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_8khz_and_stereo_audio_are_resampled_and_downmixed(model, tmp_path):
    low = write(tmp_path / "low.wav", tone(0.8, rate=8000), 8000)
    probabilities, _, _, label = model.classify_file(low)
    assert label[0] in LABELS
    resampled = load_audio(low)
    assert resampled.shape[0] == 12800
    assert torch.equal(probabilities, model.classify_batch(resampled.unsqueeze(0))[0])
    mono = tone(0.8, freq=180.0)
    write(tmp_path / "mono.wav", mono, 16000)
    write(tmp_path / "stereo.wav", np.stack([mono, mono], axis=1), 16000)
    assert torch.equal(model.classify_file(tmp_path / "stereo.wav")[0],
                       model.classify_file(tmp_path / "mono.wav")[0])


# ------------------------------------------------------------- loading
def test_foreign_class_and_a_moved_folder_load_the_same_model(trained, model, tmp_path):
    from speechbrain.inference.interfaces import foreign_class

    wav = write(tmp_path / "a.wav", tone(0.6, freq=250.0), 16000)
    expected = model.classify_file(wav)[0]
    foreign = foreign_class(source=str(trained["exported"]), pymodule_file="custom_interface.py",
                            classname="EmotionRecognizer", savedir=str(tmp_path / "foreign"),
                            run_opts={"device": "cpu"})
    assert type(foreign).__name__ == "EmotionRecognizer"
    assert torch.equal(foreign.classify_file(wav)[0], expected)
    moved = tmp_path / "moved"
    shutil.copytree(trained["exported"], moved)
    again = EmotionRecognizer.from_hparams(source=str(moved), run_opts={"device": "cpu"})
    assert torch.equal(again.classify_file(wav)[0], expected)


def test_console_script_prints_json(trained, model, tmp_path):
    files = [write(tmp_path / f"{i}.wav", tone(0.5 + 0.2 * i, freq=150.0 + 90 * i), 16000)
             for i in range(2)]
    script = Path(sys.executable).parent / "ptssnn-classify"
    command = ([str(script)] if script.exists()
               else [sys.executable, "-m", "speechbrain_ptssnn.inference"])
    command += ["--source", str(trained["exported"]), "--json", *map(str, files)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout)
    assert document["labels"] == LABELS
    assert "Classifying" in result.stderr  # the progress bar stays off stdout
    for path, entry in zip(files, document["results"]):
        expected = model.predict_file(path)
        assert entry["file"] == str(path) and entry["label"] == expected["label"]
        assert entry["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-6)
        assert sum(entry["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert set(entry["rates"]) == set(LABELS)


def test_console_script_reports_failed_files_and_goes_on(trained, tmp_path, capsys):
    good = write(tmp_path / "good.wav", tone(0.5), 16000)
    status = main(["--source", str(trained["exported"]), "--json", "--no_progress",
                   str(tmp_path / "absent.wav"), str(good)])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    assert "absent.wav" in document["results"][0]["error"]
    assert document["results"][1]["label"] in LABELS
    status = main(["--source", str(trained["exported"]), str(good)])
    out = capsys.readouterr().out
    assert status == 0 and out.startswith(f"{good}\t") and "angry=" in out


def test_a_gated_filterbank_run_exports_and_reproduces_its_evaluation(trained, tmp_path):
    run = tmp_path / "fbank_run"
    command = [
        sys.executable, str(RECIPE), str(HPARAMS), f"--data_folder={trained['root'] / 'emodb'}",
        f"--output_folder={run}", f"--feature_cache_folder={run}/cache", "--upstream=fbank",
        "--input_size=20", "--hidden_sizes=[16, 8]", "--bias_hidden_size=4", "--batch_size=8",
        "--n_folds=2", "--fold=2", "--number_of_epochs=2", "--v_threshold=0.1",
        "--attention_gate=True", "--attention_scaled=True",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    info = export_module.export_run(run, tmp_path / "exported")
    assert info["fold"] == 2 and info["warnings"] == []
    exported_hparams = (tmp_path / "exported" / "hyperparams.yaml").read_text()
    assert "Fbank" in exported_hparams
    assert "attention_gate: true" in exported_hparams
    assert "attention_scaled: true" in exported_hparams
    recognizer = EmotionRecognizer.from_hparams(source=str(tmp_path / "exported"),
                                                run_opts={"device": "cpu"})
    assert recognizer.mods.adapter.attention_gate.item() != 0.0
    with open(run / "fold_2" / "predictions.csv") as stream:
        rows = list(csv.DictReader(stream))
    manifest = json.loads((run / "fold_2" / "test.json").read_text())
    for row in rows:
        wav = manifest[row["id"]]["wav"]
        _, _, _, label = recognizer.classify_file(wav)
        logits = recognizer.compute_logits(recognizer.load_audio(wav).unsqueeze(0))[0]
        expected = torch.tensor([float(row[f"p_{lab}"]) for lab in LABELS])
        assert label == [row["predicted"]]
        assert torch.allclose(torch.softmax(logits, -1), expected, atol=2e-6)


def test_an_upstream_module_from_the_hparams_is_exported_as_training_wrapped_it():
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_ptssnn.upstreams import WaveformFeatures

    node = export_module.read_tagged_yaml(
        "upstream: !new:speechbrain.lobes.features.Fbank\n  n_mels: 24\n")["upstream"]
    entries, description = export_module.upstream_entries({}, node, None, None)
    upstream = load_hyperpyyaml(
        "sample_rate: 16000\n" + export_module.dump_yaml(entries)
    )["upstream"]
    assert isinstance(upstream, WaveformFeatures) and upstream.output_size == 24
    assert "speechbrain.lobes.features.Fbank" in description
    with pytest.raises(ValueError, match="precomputed features"):
        export_module.upstream_entries({}, "precomputed", None, None)
