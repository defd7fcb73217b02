"""Tests of the data preparation: parsers, fold protocols, manifests.

Miniature corpora are generated in each corpus's real layout; the tests on
the real corpora of ``../shared/data`` are skipped when it is absent.
"""

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy
import pytest
import soundfile
from miniature_corpora import (
    BUILDERS,
    CASIA_EMOTIONS,
    build_emodb,
    build_iemocap,
    build_urdu,
    write_audio,
)

from speechbrain_ptssnn.dataprep.cli import fold_sizes, main
from speechbrain_ptssnn.dataprep.corpora import CORPORA, corpus_defaults, get_corpus
from speechbrain_ptssnn.dataprep.corpus import EMOTIONS
from speechbrain_ptssnn.dataprep.folds import make_folds
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import (
    prepare_casia,
    prepare_corpus,
    prepare_emodb,
    prepare_emovo,
    prepare_iemocap,
    prepare_urdu,
)
from speechbrain_ptssnn.runs import OPTIONS_FILE, SKIPPED_FILE, SPLITS, RunMismatchError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# corpus -> (number of utterances, per-emotion counts, number of speakers)
EXPECTED = {
    "emodb": (84, {emo: 12 for emo in CORPORA["emodb"].emotions}, 4),
    "emovo": (84, {emo: 12 for emo in CORPORA["emovo"].emotions}, 6),
    "urdu": (42, {"angry": 12, "happy": 10, "neutral": 10, "sad": 10}, 7),
    "casia": (48, {"angry": 12, "happy": 12, "neutral": 12, "sad": 12}, 4),
    "iemocap": (51, {"angry": 11, "happy": 20, "neutral": 10, "sad": 10}, 10),
}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Miniature trees of every corpus, shared by the read-only tests."""
    return {
        name: build(tmp_path_factory.mktemp(name)) for name, build in BUILDERS.items()
    }


def load_folds(folders):
    """[{split: manifest}] of prepared fold folders."""
    return [
        {split: read_manifest(Path(f) / f"{split}.json") for split in SPLITS}
        for f in folders
    ]


# --------------------------------------------------------------------------
# Parsing and manifests
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_miniature_corpus_prepares(name, corpora, tmp_path):
    count, emotions, n_speakers = EXPECTED[name]
    folders = prepare_corpus(name, corpora[name], tmp_path)
    folds = load_folds(folders)
    test = {utt: entry for fold in folds for utt, entry in fold["test"].items()}
    assert len(test) == count
    assert Counter(entry["emo"] for entry in test.values()) == emotions
    assert len({entry["spk"] for entry in test.values()}) == n_speakers
    for entry in test.values():
        assert set(entry) == {"wav", "duration", "emo", "spk"}
        assert os.path.isabs(entry["wav"]) and os.path.isfile(entry["wav"])
        assert Path(entry["wav"]).is_relative_to(corpora[name])
        assert entry["duration"] == pytest.approx(soundfile.info(entry["wav"]).duration)
        assert entry["emo"] in EMOTIONS


def test_speakers_and_labels_follow_the_names(corpora, tmp_path):
    parsed = {name: CORPORA[name].parse(corpora[name])[0] for name in BUILDERS}
    emodb = {u.utt_id: u for u in parsed["emodb"]}
    assert (emodb["08b02La"].emo, emodb["08b02La"].spk) == ("boredom", "08")
    assert {emodb[f"03a01{letter}a"].emo for letter in "WFNTAEL"} == {
        "angry",
        "happy",
        "neutral",
        "sad",
        "fear",
        "disgust",
        "boredom",
    }
    emovo = {u.utt_id: u for u in parsed["emovo"]}
    assert (emovo["sor-m2-l2"].emo, emovo["sor-m2-l2"].spk) == ("surprise", "m2")
    assert {u.spk for u in parsed["urdu"]} == {
        "M1",
        "M4",
        "F1",
        "M3",
        "M5",
        "M24",
        "F10",
    }
    casia = {u.utt_id: u for u in parsed["casia"]}
    assert casia["ZhaoZuoxiang_fear_203"].spk == "ZhaoZuoxiang"
    assert len(parsed["casia"]) == 72
    iemocap = {u.utt_id: u for u in parsed["iemocap"]}
    assert iemocap["Ses03M_script01_1_M001"].spk == "Ses03M"
    assert iemocap["Ses03M_script01_1_F002"].emo == "happy"  # exc merged
    assert iemocap["Ses03M_script01_1_M007"].emo == "surprise"
    xx = iemocap["Ses03F_impro01_MXX0"]
    assert (xx.spk, xx.emo) == ("Ses03M", "angry")


def test_casia_all_emotions_and_stray_files(corpora, tmp_path):
    folders = prepare_casia(corpora["casia"], tmp_path, emotions="all")
    test = {u: e for fold in load_folds(folders) for u, e in fold["test"].items()}
    assert Counter(e["emo"] for e in test.values()) == {
        emo: 12 for emo in CASIA_EMOTIONS
    }
    assert not (tmp_path / SKIPPED_FILE).exists()  # stray files outside emotion folders


def test_iemocap_unlabelled_file_listed_and_count_reported(corpora, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        prepare_iemocap(corpora["iemocap"], tmp_path)
    lines = (tmp_path / SKIPPED_FILE).read_text().splitlines()
    assert len(lines) == 1 and "Ses02F_impro01_F099.wav\tno summary line" in lines[0]
    assert (
        "found 51 utterances" in caplog.text
        and "complete corpus has 5531" in caplog.text
    )
    assert "fru 10, xxx 10" in caplog.text


# --------------------------------------------------------------------------
# Fold invariants
# --------------------------------------------------------------------------


def check_folds(folds, protocol, valid_expected=True):
    """Asserts the invariants of a list of {split: manifest}."""
    everything = {}
    for fold in folds:
        for manifest in fold.values():
            everything.update(manifest)
    tests = Counter(utt for fold in folds for utt in fold["test"])
    assert set(tests) == set(everything) and set(tests.values()) == {1}
    labels = Counter(entry["emo"] for entry in everything.values())
    for fold in folds:
        parts = [set(fold[split]) for split in SPLITS]
        assert sum(map(len, parts)) == len(everything) == len(set.union(*parts))
        assert bool(fold["valid"]) == valid_expected and fold["train"] and fold["test"]
        speakers = {split: {e["spk"] for e in fold[split].values()} for split in SPLITS}
        if protocol == "loso":
            assert not speakers["test"] & (speakers["train"] | speakers["valid"])
            assert not speakers["valid"] & speakers["train"]
        else:
            in_test = Counter(e["emo"] for e in fold["test"].values())
            for emo, n in labels.items():
                assert abs(in_test[emo] - n / len(folds)) < 1
            rest = Counter(
                e["emo"] for s in ("train", "valid") for e in fold[s].values()
            )
            in_valid = Counter(e["emo"] for e in fold["valid"].values())
            share = len(fold["valid"]) / (len(fold["train"]) + len(fold["valid"]))
            for emo, n in rest.items():
                assert abs(in_valid[emo] - n * share) <= 1


@pytest.mark.parametrize(
    "name, protocol, n_folds, n_expected",
    [
        ("emodb", "stratified", None, 10),
        ("emodb", "loso", None, 4),
        ("emodb", "loso", 2, 2),
        ("emovo", "stratified", 5, 5),
        ("emovo", "loso", None, 6),
        ("urdu", "stratified", 3, 3),
        ("urdu", "loso", None, 7),
        ("casia", "loso", None, 4),
        ("casia", "stratified", None, 10),
        ("iemocap", "loso", None, 5),
        ("iemocap", "loso", 10, 10),
        ("iemocap", "loso", 3, 3),
        ("iemocap", "stratified", 4, 4),
    ],
)
def test_fold_invariants(name, protocol, n_folds, n_expected, corpora, tmp_path):
    folders = prepare_corpus(name, corpora[name], tmp_path, protocol, n_folds)
    assert [Path(f).name for f in folders] == [
        f"fold_{k}" for k in range(1, n_expected + 1)
    ]
    check_folds(load_folds(folders), protocol)


def test_iemocap_folds_hold_out_sessions(corpora, tmp_path):
    sessions = lambda fold: {e["spk"][:5] for e in fold["test"].values()}  # noqa: E731
    five = load_folds(prepare_iemocap(corpora["iemocap"], tmp_path / "five"))
    assert [sessions(fold) for fold in five] == [{f"Ses0{s}"} for s in range(1, 6)]
    three = load_folds(
        prepare_iemocap(corpora["iemocap"], tmp_path / "three", n_folds=3)
    )
    assert sorted(len(sessions(fold)) for fold in three) == [1, 2, 2]
    ten = load_folds(prepare_iemocap(corpora["iemocap"], tmp_path / "ten", n_folds=10))
    assert [len({e["spk"] for e in fold["test"].values()}) for fold in ten] == [1] * 10


def test_no_validation_when_ratio_is_zero(corpora, tmp_path):
    folds = load_folds(
        prepare_urdu(corpora["urdu"], tmp_path, n_folds=4, valid_ratio=0)
    )
    check_folds(folds, "stratified", valid_expected=False)


@pytest.mark.parametrize("protocol", ["stratified", "loso"])
def test_seed_decides_the_folds(protocol):
    rng = numpy.random.default_rng(0)
    labels = {f"u{i}": str(rng.integers(4)) for i in range(300)}
    speakers = {utt: f"s{rng.integers(15)}" for utt in labels}
    same = [make_folds(labels, speakers, protocol, 5, 0.1, seed=7) for _ in range(2)]
    other = make_folds(labels, speakers, protocol, 5, 0.1, seed=8)
    assert same[0] == same[1]
    assert other != same[0]
    if protocol == "stratified":
        assert [f["test"] for f in other] != [f["test"] for f in same[0]]
    else:  # test sets are whole speakers, the seed draws validation speakers
        assert [f["valid"] for f in other] != [f["valid"] for f in same[0]]


def test_same_seed_same_manifests(corpora, tmp_path):
    a = load_folds(prepare_emodb(corpora["emodb"], tmp_path / "a", n_folds=4, seed=3))
    b = load_folds(prepare_emodb(corpora["emodb"], tmp_path / "b", n_folds=4, seed=3))
    c = load_folds(prepare_emodb(corpora["emodb"], tmp_path / "c", n_folds=4, seed=4))
    assert a == b and a != c


# --------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------


def manifest_times(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(Path(folder).glob("fold_*/*.json"))}


def test_second_call_is_skipped_and_new_options_redo(corpora, tmp_path, caplog):
    first = prepare_emovo(corpora["emovo"], tmp_path, n_folds=5)
    times = manifest_times(tmp_path)
    with caplog.at_level(logging.INFO):
        assert prepare_emovo(corpora["emovo"], tmp_path, n_folds=5) == first
    assert "already prepared" in caplog.text
    assert manifest_times(tmp_path) == times

    prepare_emovo(corpora["emovo"], tmp_path, n_folds=5, seed=99)
    assert json.loads((tmp_path / OPTIONS_FILE).read_text())["options"]["seed"] == 99
    assert manifest_times(tmp_path).keys() == times.keys()

    redone = prepare_emovo(corpora["emovo"], tmp_path, n_folds=3)
    assert [Path(f).name for f in redone] == ["fold_1", "fold_2", "fold_3"]
    assert sorted(p.name for p in tmp_path.glob("fold_*")) == [
        "fold_1",
        "fold_2",
        "fold_3",
    ]
    check_folds(load_folds(redone), "stratified")


def test_folds_holding_results_are_never_deleted(corpora, tmp_path):
    prepare_urdu(corpora["urdu"], tmp_path, n_folds=3)
    (tmp_path / "fold_1" / "metrics.json").write_text("{}")
    (tmp_path / "fold_2" / "save" / "CKPT+1").mkdir(parents=True)
    times = manifest_times(tmp_path)
    with pytest.raises(RunMismatchError, match=r"holds folds with results \(fold_1/metrics.json, "
                       r"fold_2/save/CKPT\+1\) that other fold options \(n_folds: 3 → 2\)"):
        prepare_urdu(corpora["urdu"], tmp_path, n_folds=2)
    assert manifest_times(tmp_path) == times
    assert (tmp_path / "fold_1" / "metrics.json").exists()
    assert json.loads((tmp_path / OPTIONS_FILE).read_text())["options"]["n_folds"] == 3
    # the same corpus elsewhere makes the same folds: the manifests follow it, results stay
    moved = tmp_path / "moved"
    shutil.copytree(corpora["urdu"], moved)
    prepare_urdu(moved, tmp_path, n_folds=3)
    assert str(moved) in (tmp_path / "fold_1" / "test.json").read_text()
    assert (tmp_path / "fold_1" / "metrics.json").exists()


def test_a_truncated_wav_is_warned_about_at_preparation(tmp_path, caplog):
    data = build_emodb(tmp_path / "emodb")
    cut = data / "wav" / "09a05Na.wav"
    frames = soundfile.info(cut).frames
    raw = cut.read_bytes()
    cut.write_bytes(raw[: 44 + (len(raw) - 44) // 2])  # half of its samples
    with caplog.at_level(logging.WARNING, logger="speechbrain_ptssnn.dataprep.prepare"):
        prepare_emodb(data, tmp_path / "out", n_folds=2)
    held = soundfile.info(cut).frames
    rate = soundfile.info(cut).samplerate
    warned = [r.getMessage() for r in caplog.records if " is truncated: " in r.getMessage()]
    assert warned == [
        f"{cut} is truncated: its header says {frames} samples ({frames / rate:.3f} s) but the "
        f"file holds only {held} ({held / rate:.3f} s); it is used as the {held / rate:.3f} s "
        "it holds"
    ]


def test_nan_audio_is_refused_with_its_path(tmp_path):
    from speechbrain_ptssnn.dataprep.audio import load_audio

    path = tmp_path / "nan.wav"
    signal = numpy.zeros(800, dtype="float32")
    signal[5:8] = [numpy.nan, numpy.inf, -numpy.inf]
    soundfile.write(path, signal, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=re.escape(
            f"{path}: the audio holds 3 non-finite samples (NaN or infinity) among its 800")):
        load_audio(path)


def test_missing_manifest_redoes_and_skip_prep_does_nothing(corpora, tmp_path):
    prepare_urdu(corpora["urdu"], tmp_path, n_folds=3)
    (tmp_path / "fold_2" / "valid.json").unlink()
    prepare_urdu(corpora["urdu"], tmp_path, n_folds=3)
    assert (tmp_path / "fold_2" / "valid.json").is_file()
    assert prepare_urdu(corpora["urdu"], tmp_path / "none", skip_prep=True) == []
    assert not (tmp_path / "none").exists()


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_missing_and_empty_folders(name, tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "absent"))):
        prepare_corpus(name, tmp_path / "absent", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        (ValueError, FileNotFoundError), match=re.escape(str(tmp_path / "empty"))
    ):
        prepare_corpus(name, tmp_path / "empty", tmp_path / "out")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_layout_mismatch_names_the_folder(name, tmp_path):
    (tmp_path / "other").mkdir()
    write_audio(tmp_path / "other" / "x.wav")
    with pytest.raises((ValueError, FileNotFoundError), match=re.escape(str(tmp_path))):
        prepare_corpus(name, tmp_path, tmp_path / "out")


def test_iemocap_session_without_labels(tmp_path):
    write_audio(tmp_path / "Session1" / "sentences" / "wav" / "d" / "Ses01F_d_F000.wav")
    label_folder = tmp_path / "Session1" / "dialog" / "EmoEvaluation"
    with pytest.raises(FileNotFoundError, match=re.escape(str(label_folder))):
        prepare_iemocap(tmp_path, tmp_path / "out")


@pytest.mark.parametrize(
    "content", [b"this is not audio", b""], ids=["unreadable", "empty-file"]
)
def test_unreadable_audio_names_the_file(content, tmp_path):
    root = build_urdu(tmp_path / "urdu")
    bad = root / "Sad" / "SM24_F99_S99.wav"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        prepare_urdu(root, tmp_path / "out")


def test_audio_without_samples_names_the_file(tmp_path):
    root = build_emodb(tmp_path / "emodb")
    bad = root / "wav" / "03a05Wa.wav"
    soundfile.write(bad, numpy.zeros((0, 1)), 16000)
    with pytest.raises(
        ValueError, match=re.escape(f"{bad}: the audio file holds no samples")
    ):
        prepare_emodb(root, tmp_path / "out")


def test_duplicate_utterance_ids_name_both_files(tmp_path):
    root = build_iemocap(tmp_path / "iemocap")
    original = (
        root
        / "Session1"
        / "sentences"
        / "wav"
        / "Ses01F_impro01"
        / "Ses01F_impro01_F000.wav"
    )
    copy = root / "Session1" / "sentences" / "wav" / "misplaced" / original.name
    copy.parent.mkdir()
    shutil.copy(original, copy)
    with pytest.raises(
        ValueError, match="duplicate utterance id 'Ses01F_impro01_F000'"
    ) as error:
        prepare_iemocap(root, tmp_path / "out")
    assert str(original) in str(error.value) and str(copy) in str(error.value)


def test_unparsable_names_are_listed(tmp_path, caplog):
    root = build_emodb(tmp_path / "emodb")
    for name in ["recording.wav", "03a01Xa.wav"]:
        write_audio(root / "wav" / name)
    write_audio(root / "wav" / "._03a01Wa.wav")  # hidden: not a corpus file
    with caplog.at_level(logging.WARNING):
        prepare_emodb(root, tmp_path / "out", n_folds=4)
    listed = dict(
        line.split("\t")
        for line in (tmp_path / "out" / SKIPPED_FILE).read_text().splitlines()
    )
    assert listed == {
        str(root / "wav" / "03a01Xa.wav"): "unknown emotion letter 'X'",
        str(
            root / "wav" / "recording.wav"
        ): "name does not follow SSTTTEV.wav (speaker, text, emotion, version)",
    }
    assert "skipped 2 audio files" in caplog.text
    prepare_emodb(build_emodb(tmp_path / "clean"), tmp_path / "out", n_folds=4)
    assert not (tmp_path / "out" / SKIPPED_FILE).exists()


@pytest.mark.parametrize(
    "folder, files",
    [
        ("Angry", ["SM1_F1_H01.wav", "angry_01.wav"]),  # wrong letter, wrong scheme
        ("f1", ["dis-f2-b1.wav", "dis_f1_b1.wav"]),  # another actor, wrong scheme
    ],
)
def test_nothing_usable_fails_after_listing(folder, files, tmp_path):
    name = "urdu" if folder == "Angry" else "emovo"
    for file in files:
        write_audio(tmp_path / "data" / folder / file)
    with pytest.raises(
        ValueError,
        match=re.escape(f"no usable {name} audio file found in {tmp_path / 'data'}"),
    ):
        prepare_corpus(name, tmp_path / "data", tmp_path / "out")
    assert len((tmp_path / "out" / SKIPPED_FILE).read_text().splitlines()) == 2


def test_bad_options(corpora, tmp_path):
    with pytest.raises(ValueError, match="unknown corpus 'ravdess'"):
        prepare_corpus("ravdess", corpora["urdu"], tmp_path)
    with pytest.raises(ValueError, match="urdu has no emotion boredom"):
        prepare_urdu(corpora["urdu"], tmp_path, emotions=["sad", "boredom"])
    with pytest.raises(ValueError, match="unknown protocol 'random'"):
        prepare_urdu(corpora["urdu"], tmp_path, protocol="random")
    with pytest.raises(ValueError, match="n_folds <= 4 speakers"):
        prepare_casia(corpora["casia"], tmp_path, n_folds=5)
    with pytest.raises(ValueError, match="valid_ratio"):
        prepare_urdu(corpora["urdu"], tmp_path, valid_ratio=1.0)


def test_emotion_subset(corpora, tmp_path):
    folders = prepare_emodb(
        corpora["emodb"], tmp_path, n_folds=4, emotions=["sad", "angry"]
    )
    folds = load_folds(folders)
    test = {u: e for fold in folds for u, e in fold["test"].items()}
    assert Counter(e["emo"] for e in test.values()) == {"angry": 12, "sad": 12}


# --------------------------------------------------------------------------
# Registry and command line
# --------------------------------------------------------------------------


def test_registry_defaults():
    assert set(CORPORA) == {"iemocap", "casia", "emodb", "emovo", "urdu"}
    expected = {
        "iemocap": ("loso", 5, ["angry", "happy", "neutral", "sad"]),
        "casia": ("loso", 4, ["angry", "happy", "neutral", "sad"]),
        "emodb": (
            "stratified",
            10,
            ["angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"],
        ),
        "emovo": (
            "stratified",
            10,
            ["angry", "happy", "neutral", "sad", "fear", "disgust", "surprise"],
        ),
        "urdu": ("stratified", 10, ["angry", "happy", "neutral", "sad"]),
    }
    for name, (protocol, n_folds, emotions) in expected.items():
        defaults = corpus_defaults(name)
        assert (defaults["protocol"], defaults["n_folds"], defaults["emotions"]) == (
            protocol,
            n_folds,
            emotions,
        )
        corpus = get_corpus(name)
        assert set(corpus.default_emotions) <= set(corpus.emotions) <= set(EMOTIONS)


def test_cli_prints_fold_sizes(corpora, tmp_path, capsys):
    folders = main(
        "casia",
        [
            "--data_folder",
            str(corpora["casia"]),
            "--output_folder",
            str(tmp_path),
            "--emotions",
            "all",
        ],
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["fold", "train", "valid", "test"]
    sizes = fold_sizes(folders)
    assert [line.split() for line in lines[1:]] == [
        [f"fold_{k}", str(s["train"]), str(s["valid"]), str(s["test"])]
        for k, s in enumerate(sizes, start=1)
    ]
    assert [s["test"] for s in sizes] == [18] * 4


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_recipe_scripts_expose_the_preparation(name):
    path = REPO / "recipes" / name.upper() / f"{name}_prepare.py"
    spec = importlib.util.spec_from_file_location(f"{name}_prepare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (
        getattr(module, f"prepare_{name}").__module__
        == "speechbrain_ptssnn.dataprep.prepare"
    )


def test_recipe_script_runs(corpora, tmp_path):
    script = REPO / "recipes" / "URDU" / "urdu_prepare.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--data_folder",
            str(corpora["urdu"]),
            "--output_folder",
            str(tmp_path),
            "--protocol",
            "loso",
            "--seed",
            "5",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(result.stdout.splitlines()) == 1 + 7
    assert "urdu: wrote 7 folds (loso)" in result.stderr


# --------------------------------------------------------------------------
# Real corpora (../shared/data)
# --------------------------------------------------------------------------


def shared(name):
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def test_real_emodb(tmp_path):
    utterances, skipped = CORPORA["emodb"].parse(shared("emodb"))
    assert not skipped and len(utterances) == 535
    assert Counter(u.emo for u in utterances) == {
        "angry": 127,
        "boredom": 81,
        "neutral": 79,
        "happy": 71,
        "fear": 69,
        "sad": 62,
        "disgust": 46,
    }
    assert len({u.spk for u in utterances}) == 10
    folds = load_folds(
        prepare_emodb(shared("emodb"), tmp_path / "loso", protocol="loso")
    )
    assert len(folds) == 10
    check_folds(folds, "loso")
    folds = load_folds(prepare_emodb(shared("emodb"), tmp_path / "stratified"))
    assert [len(fold["test"]) for fold in folds] == [54] * 5 + [53] * 5
    check_folds(folds, "stratified")


def test_real_urdu(tmp_path):
    utterances, skipped = CORPORA["urdu"].parse(shared("urdu"))
    assert not skipped and len(utterances) == 400
    assert Counter(u.emo for u in utterances) == {
        "angry": 100,
        "happy": 100,
        "neutral": 100,
        "sad": 100,
    }
    assert len({u.spk for u in utterances}) == 29
    assert len({u.spk[1:] for u in utterances}) == 22
    folds = load_folds(prepare_urdu(shared("urdu"), tmp_path / "stratified"))
    assert [len(fold["test"]) for fold in folds] == [40] * 10
    check_folds(folds, "stratified")
    folds = load_folds(prepare_urdu(shared("urdu"), tmp_path / "loso", protocol="loso"))
    assert len(folds) == 29
    check_folds(folds, "loso")


def test_more_stratified_folds_than_any_class_holds_is_refused():
    labels = {f"u{i}": "sad" if i % 2 else "angry" for i in range(8)}
    with pytest.raises(ValueError, match="largest has 4: pass n_folds <= 4"):
        make_folds(labels, dict.fromkeys(labels, "spk"), "stratified", 5)
