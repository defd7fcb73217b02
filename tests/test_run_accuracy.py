"""The accuracy benchmark's recipe calls: what each fold's run is given."""

import argparse
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_accuracy = load("run_accuracy")


def fold_args(**changes):
    args = dict(corpus="emodb", data_folder="data", features_folder="feats", input_size=384,
                protocol="loso", epochs=30, extra=["--lr=0.001"], threads=1)
    return argparse.Namespace(**{**args, **changes})


def test_a_fold_runs_the_recipe_with_one_thread_unless_told(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(run_accuracy.subprocess, "run",
                        lambda command, **options: calls.append((command, options)))
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    run_accuracy.run_fold(fold_args(), "no_prompt", 3, str(tmp_path))
    run_accuracy.run_fold(fold_args(threads=2), "ptssnn", 1, str(tmp_path))
    (command, options), (_, two_threads) = calls
    assert command[1].endswith("recipes/EMODB/train.py") and command[0] == sys.executable
    assert "--variant=no_prompt" in command and "--fold=3" in command
    assert "--protocol=loso" in command and command[-1] == "--lr=0.001"
    assert options["env"]["OMP_NUM_THREADS"] == "1" and options["env"]["MKL_NUM_THREADS"] == "1"
    assert two_threads["env"]["OMP_NUM_THREADS"] == "2"
    assert options["env"]["PATH"] == run_accuracy.os.environ["PATH"]   # the rest is kept


def test_the_cross_corpus_benchmark_runs_its_recipe_with_one_thread_too(monkeypatch, tmp_path):
    cross_corpus = load("cross_corpus")
    calls = []
    monkeypatch.setattr(cross_corpus.subprocess, "run",
                        lambda command, **options: calls.append((command, options)))
    corpora = cross_corpus.parse_test_corpora(["emodb:d1:f1", "urdu:d2:f2"])
    args = fold_args(work_folder=str(tmp_path), extra=[])
    cross_corpus.run_training_corpus(args, "linear", "linear", corpora[0], corpora)
    (command, options), = calls
    assert "--fold=cross_corpus" in command and any("urdu:" in c for c in command)
    assert options["env"]["OMP_NUM_THREADS"] == "1"
