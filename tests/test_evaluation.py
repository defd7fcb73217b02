"""Evaluation as the field does it: cross-corpus runs, EmoBox partitions, the leakage guard,
bootstrap intervals and the paired test between runs."""

import csv
import json
import logging
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy
import pytest
import speechbrain as sb
from miniature_corpora import build_casia, build_emodb, build_urdu

from speechbrain_ptssnn.dataprep.cross_corpus import parse_test_corpora, shared_emotions
from speechbrain_ptssnn.dataprep.emobox import (
    match_by_file_name,
    read_partitions,
    write_partitions,
)
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import prepare_corpus
from speechbrain_ptssnn.experiment import Experiment
from speechbrain_ptssnn.export.model_card import model_card
from speechbrain_ptssnn.metrics import (
    bootstrap_intervals,
    classification_metrics,
    confusion_matrix,
    resampled_metrics,
)
from speechbrain_ptssnn.report.__main__ import main as report_main
from speechbrain_ptssnn.report.compare import paired_comparison, sign_test
from speechbrain_ptssnn.summary import write_summary
from speechbrain_ptssnn.upstreams.leakage import LEAKAGE_WARNING, upstream_leakage

REPO = Path(__file__).resolve().parents[1]
HPARAMS = REPO / "hparams" / "ptssnn.yaml"
SMALL = ["--upstream=fbank", "--input_size=20", "--hidden_sizes=[16, 8]", "--bias_hidden_size=4",
         "--batch_size=8", "--n_folds=2", "--number_of_epochs=2"]


def run_recipe(corpus, data, output, *extra):
    command = [sys.executable, str(REPO / "recipes" / corpus.upper() / "train.py"), str(HPARAMS),
               f"--data_folder={data}", f"--output_folder={output}",
               f"--feature_cache_folder={output}/cache", *SMALL, *extra]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    return result, result.stdout + result.stderr


def read_rows(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


# --------------------------------------------------------------------------
# Cross-corpus
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    return {"emodb": build_emodb(root / "emodb"), "casia": build_casia(root / "casia"),
            "urdu": build_urdu(root / "urdu")}


def test_cross_corpus_run_scores_only_the_shared_classes(corpora, tmp_path):
    # EMODB has disgust and boredom, CASIA surprise: they share five classes
    output = tmp_path / "run"
    extra = ["--fold=1", f"--test_corpora=casia:{corpora['casia']}"]
    result, log = run_recipe("emodb", corpora["emodb"], output, *extra)
    assert result.returncode == 0, log[-4000:]
    shared = ["angry", "happy", "neutral", "sad", "fear"]
    folder = output / "cross_corpus"
    train, valid = (read_manifest(folder / f"{split}.json") for split in ("train", "valid"))
    assert {e["emo"] for e in {**train, **valid}.values()} == set(shared)
    assert len(train) + len(valid) == 4 * 5 * 3  # every EMODB utterance of those classes
    assert not {e["spk"] for e in train.values()} & {e["spk"] for e in valid.values()}
    test = read_manifest(folder / "casia" / "test.json")
    assert Counter(e["emo"] for e in test.values()) == dict.fromkeys(shared, 4 * 3)
    metrics = json.loads((folder / "casia" / "metrics.json").read_text())
    assert metrics["labels"] == shared and metrics["count"] == len(test) == 60
    rows = read_rows(folder / "casia" / "predictions.csv")
    assert sorted(r["id"] for r in rows) == sorted(test)
    assert {r["true"] for r in rows} == set(shared)
    assert {r["predicted"] for r in rows} <= set(shared)
    assert [c for c in rows[0] if c.startswith("p_")] == [f"p_{label}" for label in shared]

    summary = json.loads((output / "summary.json").read_text())
    assert sorted(summary["folds"]) == ["1"]  # the within-corpus fold runs too
    cross = summary["cross_corpus"]["casia"]
    assert cross["train_corpus"] == "emodb" and cross["labels"] == shared
    for metric in ("WA", "UA", "F1"):
        assert cross[metric] == pytest.approx(metrics[metric])
        interval = cross["bootstrap"][metric]
        assert interval["low"] <= cross[metric] <= interval["high"]
    markdown = (output / "summary.md").read_text()
    assert "## Cross-corpus" in markdown and "| emodb → casia |" in markdown
    assert summary["leakage"] is None

    # a rerun trains nothing again and tests nothing again
    finished = (folder / "casia" / "metrics.json").stat().st_mtime_ns
    log_lines = (folder / "train_log.txt").read_text()
    result, log = run_recipe("emodb", corpora["emodb"], output, *extra)
    assert result.returncode == 0, log[-4000:]
    assert (folder / "casia" / "metrics.json").stat().st_mtime_ns == finished
    assert (folder / "train_log.txt").read_text() == log_lines


def test_cross_corpus_stage_alone_on_two_targets(corpora, tmp_path):
    output = tmp_path / "run"
    targets = f"--test_corpora=casia:{corpora['casia']},urdu:{corpora['urdu']}"
    result, log = run_recipe("emodb", corpora["emodb"], output, "--fold=cross_corpus", targets,
                             "--number_of_epochs=1")
    assert result.returncode == 0, log[-4000:]
    assert not list(output.glob("fold_*/metrics.json"))  # no within-corpus fold
    summary = json.loads((output / "summary.json").read_text())
    assert sorted(summary["cross_corpus"]) == ["casia", "urdu"]
    for target in ("casia", "urdu"):  # URDU has four classes: those are the shared ones
        assert summary["cross_corpus"][target]["labels"] == ["angry", "happy", "neutral", "sad"]
    urdu = read_manifest(output / "cross_corpus" / "urdu" / "test.json")
    assert len(urdu) == 42  # every URDU utterance
    assert "# Cross-corpus summary" in (output / "summary.md").read_text()


def experiment(tmp_path, **overrides):
    options = {"data_folder": str(tmp_path), "output_folder": str(tmp_path / "out"), **overrides}
    return Experiment("emodb", str(HPARAMS), options, {})


def test_test_corpora_options_are_checked_before_anything_runs(corpora, tmp_path):
    with pytest.raises(ValueError, match="unknown corpus 'ravdess'"):
        experiment(tmp_path, test_corpora="ravdess:/data/ravdess")
    with pytest.raises(ValueError, match="does not exist"):
        experiment(tmp_path, test_corpora="urdu:/no/such/folder")
    with pytest.raises(ValueError, match="--fold=cross_corpus runs the cross-corpus stage only"):
        experiment(tmp_path, fold="cross_corpus")
    with pytest.raises(ValueError, match="give urdu's features folder as a third field"):
        experiment(tmp_path, upstream="precomputed", test_corpora=f"urdu:{corpora['urdu']}")
    with pytest.raises(ValueError, match="only --upstream=precomputed reads"):
        experiment(tmp_path, test_corpora=f"urdu:{corpora['urdu']}:/feats/urdu")
    with pytest.raises(ValueError, match="is the training corpus"):
        experiment(tmp_path, test_corpora=f"emodb:{corpora['emodb']}")
    with pytest.raises(ValueError, match="share 0 class"):
        experiment(tmp_path, emotions=["disgust", "boredom"],
                   test_corpora=f"urdu:{corpora['urdu']}")
    with pytest.raises(FileNotFoundError, match="partition folder .* does not exist"):
        experiment(tmp_path, partitions=str(tmp_path / "no_emobox"))
    run = experiment(tmp_path, data_folder=str(corpora["emodb"]), upstream="precomputed",
                     features_folder=str(tmp_path / "f"), input_size=8,
                     test_corpora=f"urdu:{corpora['urdu']}:{tmp_path / 'uf'}")
    source = run._target_source(run.targets[0])
    assert source.features_folder == str(tmp_path / "uf")
    assert source.data_folder == str(corpora["urdu"])
    assert run.cross_corpus_labels == ["angry", "happy", "neutral", "sad"]
    assert shared_emotions(["angry", "sad", "boredom"], ["emovo"]) == ["angry", "sad"]
    with pytest.raises(ValueError, match="share 1 class"):
        shared_emotions(["angry", "boredom"], ["emovo"])
    assert parse_test_corpora(["urdu:/u"])[0].data_folder == "/u"


def test_new_options_are_not_swallowed_by_speechbrains_parser():
    # argparse takes a prefix of one of its own options for that option (--test_on: --test_only)
    argv = [str(HPARAMS), "--test_corpora=urdu:/u", "--partitions=/e/emodb",
            "--data_root_placeholder=True", "--fold=cross_corpus"]
    _, run_opts, overrides = sb.parse_arguments(argv)
    assert not run_opts.get("test_only")
    assert "test_corpora: urdu:/u" in overrides and "partitions: /e/emodb" in overrides
    assert "data_root_placeholder: True" in overrides and "fold: cross_corpus" in overrides


# --------------------------------------------------------------------------
# EmoBox partitions
# --------------------------------------------------------------------------


def write_emobox(folder, corpus, folds, label_map, twins=False, label_file="label_map.json"):
    """An EmoBox corpus folder of the real shape: fold_<k>/<corpus>_{train,test}_fold_<k>.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / label_file).write_text(json.dumps(label_map, indent=4))
    for k, parts in enumerate(folds, start=1):
        (folder / f"fold_{k}").mkdir(exist_ok=True)
        for split, entries in parts.items():
            names = [f"{corpus}_{split}_fold_{k}.json"] + ([f"{corpus}_{split}_fold{k}.json"]
                                                          if twins else [])
            for name in names:
                (folder / f"fold_{k}" / name).write_text(json.dumps(entries, indent=4))
    return folder


def emobox_entry(corpus, path, emo):
    return {"wav": f"downloads/{corpus}/{path}", "length": 0.05, "emo": emo, "dataset": corpus,
            "channel": 1}


EMODB_EMOBOX = {"W": "anger", "L": "boredem", "E": "disgust", "A": "fear", "F": "happy",
                "T": "sad", "N": "neutral"}
EMODB_LABEL_MAP = {"anger": "Angry", "boredem": "Boredom", "disgust": "Disgust", "fear": "Fear",
                   "happy": "Happy", "Neutral": "Neutral", "sad": "Sad"}


def test_emobox_folds_of_emodbs_shape_are_read_and_run(corpora, tmp_path):
    # EMODB's EmoBox folds: by text, every speaker in every fold (not speaker-independent),
    # labels such as "boredem", the label map's "Neutral" key for "neutral" entries, twins
    names = sorted(p.stem for p in (corpora["emodb"] / "wav").glob("*.wav"))
    folds = []
    for text in ("a01", "b02", "a05"):
        entries = {f"emodb-{n}": emobox_entry("emodb", f"wav/{n}.wav", EMODB_EMOBOX[n[5]])
                   for n in names}
        test = {k: e for k, e in entries.items() if k[8:11] == text}
        folds.append({"train": {k: e for k, e in entries.items() if k not in test},
                      "test": test})
    del folds[0]["test"]["emodb-03a01Wa"]  # a file EmoBox lacks here
    boxed = write_emobox(tmp_path / "EmoBox" / "data" / "emodb", "emodb", folds, EMODB_LABEL_MAP,
                         twins=True)
    prepared = prepare_corpus("emodb", corpora["emodb"], tmp_path / "out", partitions=boxed)
    assert len(prepared) == 3
    record = json.loads((tmp_path / "out" / "prepare_options.json").read_text())
    assert record["emobox"] == {"speaker_independent": False, "missing": 0}
    assert record["options"]["protocol"] == "emobox" and record["options"]["n_folds"] == 3
    for k, fold in enumerate(prepared):
        manifests = {s: read_manifest(Path(fold) / f"{s}.json") for s in ("train", "valid", "test")}
        assert sorted(manifests["test"]) == sorted(key[6:] for key in folds[k]["test"])
        assert sorted({**manifests["train"], **manifests["valid"]}) == \
            sorted(key[6:] for key in folds[k]["train"])
        assert {e["emo"] for e in manifests["test"].values()} == {
            "angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"}
        valid_classes = Counter(e["emo"] for e in manifests["valid"].values())
        assert len(valid_classes) == 7  # stratified, not by speaker: the folds are not
    # the same options again: nothing is redone
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("fold_*/*.json")}
    prepare_corpus("emodb", corpora["emodb"], tmp_path / "out", partitions=boxed)
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("fold_*/*.json")}
    # twins that disagree are an error
    (boxed / "fold_1" / "emodb_test_fold1.json").write_text("{}")
    with pytest.raises(ValueError, match="hold different test sets"):
        read_partitions(boxed)


def test_emobox_folds_of_casias_shape_match_repeated_file_names(corpora, tmp_path):
    # CASIA: the same file names under every speaker and emotion; folds by speaker; a label
    # map named label_dict.json (as EMOVO's) and a .jsonl only in one fold
    speakers = ["liuchanhg", "wangzhe", "zhaoquanyin", "zhaozuoxiang"]  # EmoBox's letter case
    entries = {f"casia-{n}-{s}-{e}": emobox_entry("casia", f"{s}/{e}/{n}.wav", e)
               for s in speakers for e in ("angry", "fear", "happy", "neutral", "sad", "surprise")
               for n in (201, 202, 203)}
    folds = [{"train": {k: v for k, v in entries.items() if f"-{s}-" not in k},
              "test": {k: v for k, v in entries.items() if f"-{s}-" in k}} for s in speakers]
    boxed = write_emobox(tmp_path / "casia", "casia", folds,
                         {e: e.capitalize() for e in ("angry", "fear", "happy", "neutral", "sad",
                                                      "surprise")}, label_file="label_dict.json")
    lines = "".join(json.dumps({"key": k, **v}) + "\n" for k, v in folds[3]["test"].items())
    (boxed / "fold_4" / "casia_test_fold_4.json").unlink()
    (boxed / "fold_4" / "casia_test_fold_4.jsonl").write_text(lines)
    prepared = prepare_corpus("casia", corpora["casia"], tmp_path / "out", partitions=boxed,
                              emotions=["angry", "happy", "neutral", "sad"])
    record = json.loads((tmp_path / "out" / "prepare_options.json").read_text())
    assert record["emobox"]["speaker_independent"] is True
    for fold, speaker in zip(prepared, speakers):
        manifests = {s: read_manifest(Path(fold) / f"{s}.json") for s in ("train", "valid", "test")}
        assert {e["spk"].lower() for e in manifests["test"].values()} == {speaker}
        assert len(manifests["test"]) == 4 * 3  # the four classes asked for
        valid = {e["spk"] for e in manifests["valid"].values()}
        assert len(valid) == 1 and not valid & {e["spk"] for e in manifests["train"].values()}
    with pytest.raises(ValueError, match="fits several files"):
        match_by_file_name({"x": "angry/201.wav"},
                           {"a": "/c/wangzhe/angry/201.wav", "b": "/c/liuchanhg/angry/201.wav"})


def test_emobox_partitions_round_trip(corpora, tmp_path):
    # the project's own folds, written in EmoBox's format and read back: the same folds
    ours = prepare_corpus("urdu", corpora["urdu"], tmp_path / "ours", n_folds=3)
    written = write_partitions(tmp_path / "ours", tmp_path / "EmoBox" / "urdu", "urdu")
    assert [Path(f).name for f in written] == ["fold_1", "fold_2", "fold_3"]
    assert json.loads((tmp_path / "EmoBox" / "urdu" / "label_map.json").read_text()) == {
        "angry": "Angry", "happy": "Happy", "neutral": "Neutral", "sad": "Sad"}
    entry = next(iter(read_partitions(tmp_path / "EmoBox" / "urdu")["folds"][0]["test"].values()))
    assert entry["wav"].startswith("downloads/urdu/") and set(entry) == {
        "wav", "length", "emo", "dataset", "channel"}
    jsonl = (tmp_path / "EmoBox" / "urdu" / "fold_1" / "urdu_test_fold_1.jsonl").read_text()
    assert json.loads(jsonl.splitlines()[0])["key"].startswith("urdu-")
    again = prepare_corpus("urdu", corpora["urdu"], tmp_path / "again",
                           partitions=tmp_path / "EmoBox" / "urdu")
    for a, b in zip(ours, again, strict=True):
        first = {s: read_manifest(Path(a) / f"{s}.json") for s in ("train", "valid", "test")}
        second = {s: read_manifest(Path(b) / f"{s}.json") for s in ("train", "valid", "test")}
        assert first["test"] == second["test"]
        assert {**first["train"], **first["valid"]} == {**second["train"], **second["valid"]}


def test_the_data_root_placeholder_lets_the_corpus_move(corpora, tmp_path):
    data = tmp_path / "emodb"
    shutil.copytree(corpora["emodb"], data)
    folds = prepare_corpus("emodb", data, tmp_path / "out", n_folds=2, data_root_placeholder=True)
    raw = json.loads((Path(folds[0]) / "test.json").read_text())
    assert all(e["wav"].startswith("{data_root}/wav/") for e in raw.values())
    moved = tmp_path / "moved"
    data.rename(moved)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("fold_*/*.json")}
    prepare_corpus("emodb", moved, tmp_path / "out", n_folds=2, data_root_placeholder=True)
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("fold_*/*.json")}
    test = read_manifest(Path(folds[0]) / "test.json", data_root=moved)
    assert all(os.path.isfile(e["wav"]) for e in test.values())
    from speechbrain_ptssnn.dataio import label_encoder_for, manifest_dataset

    class Features:
        def load(self, wav):
            assert os.path.isfile(wav)
            return numpy.zeros((3, 2), "float32")

    dataset = manifest_dataset(Path(folds[0]) / "test.json", Features(),
                               label_encoder_for(["angry", "happy", "neutral", "sad", "fear",
                                                  "disgust", "boredom"]), data_root=str(moved))
    assert dataset[0]["feats"].shape == (3, 2)


# --------------------------------------------------------------------------
# Leakage guard
# --------------------------------------------------------------------------


def test_an_emotion2vec_plus_upstream_is_flagged_on_the_corpora_it_was_trained_on(
        corpora, tmp_path, caplog):
    assert upstream_leakage("emotion2vec", "iic/emotion2vec_plus_base", ["emodb"])["corpora"] == [
        "emodb"]
    assert upstream_leakage("emotion2vec", "emotion2vec/emotion2vec_plus_large", ["iemocap"])
    assert upstream_leakage("emotion2vec", str(tmp_path / "emotion2vec_plus_seed"), ["casia"])
    assert upstream_leakage("emotion2vec", "iic/emotion2vec_base", ["emodb"]) is None
    assert upstream_leakage("precomputed", "iic/emotion2vec_plus_base", ["emodb"]) is None
    with caplog.at_level(logging.WARNING):
        run = experiment(tmp_path, data_folder=str(corpora["emodb"]),
                         upstream_source="iic/emotion2vec_plus_base")
    assert LEAKAGE_WARNING in caplog.text and "emodb" in caplog.text
    assert run.leakage["upstream_source"] == "iic/emotion2vec_plus_base"

    fold = tmp_path / "run" / "fold_1"
    fold.mkdir(parents=True)
    (fold / "metrics.json").write_text(json.dumps(
        {"WA": 50.0, "UA": 50.0, "F1": 50.0, "count": 2, "confusion": [[1, 0], [1, 0]]}))
    (fold / "predictions.csv").write_text("id,true,predicted,p_a,p_b\nu1,a,a,1,0\nu2,b,a,1,0\n")
    summary = write_summary(str(tmp_path / "run"), ["a", "b"], {"trainable_parameters": 1},
                            leakage=run.leakage)
    assert summary["leakage"]["warning"] == LEAKAGE_WARNING
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["leakage"] == run.leakage
    assert f"Warning: {LEAKAGE_WARNING}" in (tmp_path / "run" / "summary.md").read_text()
    info = {"corpus": "emodb", "fold": 1, "labels": ["a", "b"], "upstream": "emotion2vec",
            "upstream_source": "iic/emotion2vec_plus_base", "upstream_description": "e2v+",
            "storage_dtype": "float16", "parameters": 10, "max_chunk_seconds": 30,
            "metrics": {"WA": 50.0, "UA": 50.0, "F1": 50.0, "count": 2}, "options": {},
            "best_metric": "UA", "summary": summary, "selection": "fold", "repo_id": None,
            "out_folder": "/x/out", "checkpoint_meta": {}, "checkpoint": "/x/CKPT", "warnings": [],
            "temperature": 1.0}
    assert f"**Warning: {LEAKAGE_WARNING}.**" in model_card(info)
    clean = dict(info, upstream_source="iic/emotion2vec_base", summary={})
    assert LEAKAGE_WARNING not in model_card(clean)


# --------------------------------------------------------------------------
# Bootstrap intervals and the paired test
# --------------------------------------------------------------------------


def test_bootstrap_intervals_contain_the_estimate_and_shrink_with_more_data():
    rng = numpy.random.default_rng(0)
    targets = rng.integers(0, 4, 100)
    predictions = numpy.where(rng.random(100) < 0.7, targets, rng.integers(0, 4, 100))
    small = bootstrap_intervals(targets, predictions, 4)
    large = bootstrap_intervals(numpy.tile(targets, 10), numpy.tile(predictions, 10), 4)
    point = classification_metrics(confusion_matrix(targets, predictions, 4))
    for metric in ("WA", "UA", "F1"):
        for intervals in (small, large):
            interval = intervals[metric]
            assert interval["level"] == 0.95
            assert interval["low"] <= interval["estimate"] <= interval["high"]
            assert interval["estimate"] == pytest.approx(point[metric])
        assert large[metric]["high"] - large[metric]["low"] < \
            0.5 * (small[metric]["high"] - small[metric]["low"])
    assert bootstrap_intervals(targets, predictions, 4) == small  # a fixed seed
    every = numpy.arange(100)[None, :]
    for metric, values in resampled_metrics(targets, predictions, 4, every).items():
        assert values[0] == pytest.approx(point[metric])


def make_run(folder, name, fold_metrics, predictions, tests=None):
    """A finished run folder: fold_<k>/{metrics.json,predictions.csv,test.json}, summary.json."""
    for k, wa in fold_metrics.items():
        fold = folder / f"fold_{k}"
        fold.mkdir(parents=True)
        rows = predictions[k]
        (fold / "metrics.json").write_text(json.dumps(
            {"WA": wa, "UA": wa - 1, "F1": wa - 2, "count": len(rows), "labels": ["a", "b"],
             "confusion": [[0, 0], [0, 0]]}))
        (fold / "predictions.csv").write_text("id,true,predicted,p_a,p_b\n" + "".join(
            f"{utt},{true},{pred},0.5,0.5\n" for utt, true, pred in rows))
        ids = (tests or {}).get(k) or [utt for utt, _, _ in rows]
        (fold / "test.json").write_text(json.dumps({utt: {} for utt in ids}))
    (folder / "summary.json").write_text(json.dumps({
        "folds": {str(k): {} for k in fold_metrics}, "mean": {"WA": 0, "UA": 0, "F1": 0},
        "std": {"WA": 0, "UA": 0, "F1": 0}, "configuration": {"hparams": {"experiment_name": name}},
        "trainable_parameters": 1}))
    return folder


def test_report_compare_pairs_two_runs_on_the_same_folds(tmp_path, capsys):
    rng = numpy.random.default_rng(1)
    truth = {k: [(f"u{k}_{i}", "ab"[i % 2]) for i in range(60)] for k in range(1, 6)}

    def predictions(accuracy):
        return {k: [(u, t, t if rng.random() < accuracy else "ab"[t == "a"]) for u, t in rows]
                for k, rows in truth.items()}

    better = make_run(tmp_path / "better", "better", {k: 80.0 + k for k in truth}, predictions(0.9))
    worse = make_run(tmp_path / "worse", "worse", {1: 70.0, 2: 75.0, 3: 83.0, 4: 70.0, 5: 72.0},
                     predictions(0.6))
    paired = paired_comparison(str(better), str(worse))
    wa = paired["metrics"]["WA"]
    assert paired["folds"] == [1, 2, 3, 4, 5] and paired["warnings"] == []
    assert wa["differences"] == [11.0, 7.0, 0.0, 14.0, 13.0]
    assert (wa["above"], wa["below"], wa["ties"]) == (4, 0, 1)
    assert wa["sign_test_p"] == pytest.approx(sign_test(4, 0)) == pytest.approx(0.125)
    boot = wa["bootstrap"]
    assert boot["low"] <= boot["difference"] <= boot["high"]
    assert boot["low"] > 0 and boot["p"] < 0.05
    assert report_main(["compare", str(better), str(worse), "--paired"]) == 0
    printed = capsys.readouterr().out
    assert "Paired against better" in printed and "| worse | WA | 5 | -9.00 ± " in printed

    other = make_run(tmp_path / "other", "other", {k: 70.0 for k in truth}, predictions(0.6),
                     tests={1: ["someone_else"]})
    with pytest.raises(ValueError, match="the runs' folds differ: fold 1's test sets"):
        paired_comparison(str(better), str(other))
    assert report_main(["compare", str(better), str(other), "--paired"]) == 0
    assert "not paired: the runs' folds differ" in capsys.readouterr().out
