"""The recipes, end to end, on generated miniature corpora."""

import csv
import json
import logging
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import speechbrain as sb
import torch
from miniature_corpora import BUILDERS, build_emodb
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_ptssnn.brain import PTSSNNBrain
from speechbrain_ptssnn.runs import checkpoint_under_test

REPO = Path(__file__).resolve().parents[1]
HPARAMS = REPO / "hparams" / "ptssnn.yaml"
RECIPES = {name: REPO / "recipes" / name.upper() / "train.py" for name in BUILDERS}
SMALL = [
    "--upstream=fbank", "--input_size=20", "--hidden_sizes=[16, 8]",
    "--bias_hidden_size=4", "--batch_size=8", "--n_folds=2",
]


def recipe_command(corpus, data, output, *extra):
    return [
        sys.executable, str(RECIPES[corpus]), str(HPARAMS), f"--data_folder={data}",
        f"--output_folder={output}", f"--feature_cache_folder={output}/cache", *SMALL, *extra,
    ]


def run(command, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, **kwargs)
    return result, result.stdout + result.stderr


@pytest.fixture(scope="module")
def emodb(tmp_path_factory):
    return build_emodb(tmp_path_factory.mktemp("emodb"))


def test_emodb_recipe_runs_every_fold_and_summarises(emodb, tmp_path):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=2",
                             "--efficiency_report=True")
    result, log = run(command)
    assert result.returncode == 0, log[-4000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["labels"] == ["angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"]
    assert sorted(summary["folds"]) == ["1", "2"]
    test_counts = 0
    for k, fold in summary["folds"].items():
        for metric in ("WA", "UA", "F1"):
            assert 0.0 <= fold[metric] <= 100.0
        manifest = json.loads((tmp_path / f"fold_{k}" / "test.json").read_text())
        assert sum(map(sum, fold["confusion"])) == len(manifest) == fold["count"]
        with open(tmp_path / f"fold_{k}" / "predictions.csv") as stream:
            rows = list(csv.DictReader(stream))
        assert sorted(row["id"] for row in rows) == sorted(manifest)
        assert all(row["true"] == manifest[row["id"]]["emo"] for row in rows)
        test_counts += len(manifest)
        efficiency = json.loads((tmp_path / f"fold_{k}" / "efficiency.json").read_text())
        assert efficiency["energy"]["model"]["per_sample"]["energy_mj"] > 0
        log_lines = (tmp_path / f"fold_{k}" / "train_log.txt").read_text().splitlines()
        assert [line.split(",")[0] for line in log_lines[:2]] == ["epoch: 1", "epoch: 2"]
    assert sum(map(sum, summary["confusion"])) == test_counts == 84
    assert summary["trainable_parameters"] > 0
    assert "n_classes: 7" in (tmp_path / "hyperparams.yaml").read_text()
    for name in ("summary.md", "confusion.csv", "confusion.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "mean ± std" in (tmp_path / "summary.md").read_text()


@pytest.fixture
def brain_warnings():
    """The warnings ``speechbrain_ptssnn.brain`` logs (the recipe's logging set-up replaces
    the root handlers that ``caplog`` listens on)."""
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("speechbrain_ptssnn.brain")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def run_in_process(monkeypatch, command):
    monkeypatch.setattr(sys, "argv", command[1:])
    runpy.run_path(command[1], run_name="__main__")


def epochs_logged(fold_folder):
    lines = (fold_folder / "train_log.txt").read_text().splitlines()
    return [int(line.split(",")[0].split(":")[1]) for line in lines if line.startswith("epoch:")]


def test_interrupted_run_resumes_and_finished_folds_are_skipped(emodb, tmp_path, monkeypatch):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=3", "--fold=1")
    original = PTSSNNBrain.on_stage_end

    def stop_after_first_epoch(self, stage, stage_loss, epoch=None):
        original(self, stage, stage_loss, epoch)
        if stage == sb.Stage.VALID and epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(PTSSNNBrain, "on_stage_end", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_in_process(monkeypatch, command)
    fold = tmp_path / "fold_1"
    assert epochs_logged(fold) == [1] and not (fold / "metrics.json").exists()

    monkeypatch.setattr(PTSSNNBrain, "on_stage_end", original)
    run_in_process(monkeypatch, command)
    assert epochs_logged(fold) == [1, 2, 3]
    finished = (fold / "metrics.json").stat().st_mtime_ns

    run_in_process(monkeypatch, command)
    assert epochs_logged(fold) == [1, 2, 3]
    assert (fold / "metrics.json").stat().st_mtime_ns == finished


def test_distillation_trains_the_teacher_once_and_checkpoints_it(emodb, tmp_path, monkeypatch):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=2", "--fold=1",
                             "--distill_weight=0.5", "--teacher_epochs=2", "--readout=membrane")
    trained = []
    original_train, original_end = PTSSNNBrain.train_teacher, PTSSNNBrain.on_stage_end

    def counting(self, *args):
        trained.append(1)
        original_train(self, *args)

    def stop_after_first_epoch(self, stage, stage_loss, epoch=None):
        original_end(self, stage, stage_loss, epoch)
        if stage == sb.Stage.VALID and epoch == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(PTSSNNBrain, "train_teacher", counting)
    monkeypatch.setattr(PTSSNNBrain, "on_stage_end", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_in_process(monkeypatch, command)
    checkpoints = list((tmp_path / "fold_1" / "save").glob("CKPT+*/teacher.ckpt"))
    assert trained == [1] and len(checkpoints) == 1
    monkeypatch.setattr(PTSSNNBrain, "on_stage_end", original_end)
    run_in_process(monkeypatch, command)  # resumes: the teacher comes from the checkpoint
    assert trained == [1] and epochs_logged(tmp_path / "fold_1") == [1, 2]
    assert (tmp_path / "fold_1" / "metrics.json").exists()


def test_the_tested_model_is_the_average_of_the_last_epochs_and_resumes(
    emodb, tmp_path, monkeypatch, brain_warnings
):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=3", "--fold=1",
                             "--average_last=2")
    original = PTSSNNBrain.write_test_results

    def stop_before_writing(self, folder=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(PTSSNNBrain, "write_test_results", stop_before_writing)
    with pytest.raises(KeyboardInterrupt):
        run_in_process(monkeypatch, command)
    fold = tmp_path / "fold_1"
    checkpointer = Checkpointer(fold / "save")
    averaged = checkpoint_under_test(str(fold))
    assert averaged.path.name == "CKPT+averaged" and averaged.meta["averaged_epochs"] == [2, 3]
    by_epoch = {c.meta["epoch"]: c for c in checkpointer.list_checkpoints() if "epoch" in c.meta}

    def weights(checkpoint):
        return torch.load(checkpoint.paramfiles["adapter"], weights_only=True)

    mean = {key: (weights(by_epoch[2])[key] + weights(by_epoch[3])[key]) / 2
            for key in weights(averaged) if weights(averaged)[key].is_floating_point()}
    assert mean and all(torch.allclose(weights(averaged)[key], mean[key]) for key in mean)
    assert any(weights(by_epoch[3])[key].ne(value).any() for key, value in mean.items())
    first = weights(averaged)

    monkeypatch.setattr(PTSSNNBrain, "write_test_results", original)
    run_in_process(monkeypatch, command)  # resumes from epoch 3, averages the same two again
    assert epochs_logged(fold) == [1, 2, 3]
    again = checkpoint_under_test(str(fold))
    assert all(torch.equal(first[key], weights(again)[key]) for key in first)
    log = (fold / "train_log.txt").read_text()
    assert log.count("average of epochs: 2, to: 3 - valid loss") == 2  # once per fit
    assert "average of epochs: 2, to: 3 - test loss" in log
    # 3 epochs of the default's T_0=10 cycle: the average is taken at a high learning rate
    warning = brain_warnings[0].getMessage()
    assert "number_of_epochs=3 ends 3 epochs into a 10-epoch cosine cycle" in warning
    assert warning.endswith("--number_of_epochs=10.")


def test_test_only_evaluates_the_saved_checkpoint_and_tensorboard_logs(
    emodb, tmp_path, monkeypatch
):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=1", "--fold=2")
    run_in_process(monkeypatch, command + ["--use_tensorboard=True"])
    assert list((tmp_path / "fold_2" / "tensorboard").glob("events.out.tfevents.*"))
    first = json.loads((tmp_path / "fold_2" / "metrics.json").read_text())
    run_in_process(monkeypatch, command + ["--test_only"])
    again = json.loads((tmp_path / "fold_2" / "metrics.json").read_text())
    assert epochs_logged(tmp_path / "fold_2") == [1]
    assert again["confusion"] == first["confusion"]


def test_two_process_torchrun_completes(emodb, tmp_path):
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=1", "--fold=1")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                "--master_port=29541", *command[1:]]
    result, log = run(torchrun)
    assert result.returncode == 0, log[-4000:]
    metrics = json.loads((tmp_path / "fold_1" / "metrics.json").read_text())
    assert metrics["count"] == len(json.loads((tmp_path / "fold_1" / "test.json").read_text()))


@pytest.mark.parametrize("corpus", sorted(BUILDERS))
def test_each_recipe_debug_run_completes(corpus, tmp_path):
    data = BUILDERS[corpus](tmp_path / "data")
    result, log = run(recipe_command(corpus, data, tmp_path / "out", "--debug", "--fold=1"))
    assert result.returncode == 0, log[-4000:]
    assert (tmp_path / "out" / "fold_1" / "metrics.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--protocol=random"], "unknown --protocol=random"),
        (["--fold=7"], "--fold=7 is out of range: this protocol has folds 1 to 2"),
        (["--best_metric=accuracy"], "unknown --best_metric=accuracy"),
        (["--upstream=hubert"], "unknown upstream 'hubert'"),
    ],
)
def test_bad_options_fail_before_training(emodb, tmp_path, extra, message):
    result, log = run(recipe_command("emodb", emodb, tmp_path, *extra))
    assert result.returncode != 0
    assert message in log
    assert not list(tmp_path.glob("fold_*/save"))


def test_missing_data_folder_is_a_clear_error(tmp_path):
    command = [sys.executable, str(RECIPES["emodb"]), str(HPARAMS), f"--output_folder={tmp_path}"]
    result, log = run(command)
    assert result.returncode != 0 and "--data_folder is required" in log


def test_features_of_the_wrong_dimension_fail_before_training(emodb, tmp_path):
    features = tmp_path / "features"
    for wav in (emodb / "wav").glob("*.wav"):
        (features / "wav").mkdir(parents=True, exist_ok=True)
        numpy.save(features / "wav" / (wav.stem + ".npy"), numpy.zeros((5, 8), "float32"))
    command = recipe_command("emodb", emodb, tmp_path / "out", "--upstream=precomputed",
                             f"--features_folder={features}")
    result, log = run(command)
    assert result.returncode != 0
    assert ".npy" in log and "20" in log and "8" in log
    assert not list((tmp_path / "out").glob("fold_*/save"))
