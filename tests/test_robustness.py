"""Nothing silently wrong: bad values refused where they enter, results never lost or relabelled.

Each test is one case of the robustness issue, run through the real EMODB
recipe on a generated corpus (tests/miniature_corpora.py): non-finite
features, audio, losses and gradients; reruns of a finished folder with other
options (refused before anything is written), ``--overwrite=True`` (the old
results moved aside), bad option values, tampered checkpoints and exports
that pair an adapter with an upstream it never saw.
"""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy
import pytest
import soundfile
import torch
from miniature_corpora import build_emodb
from test_recipes import recipe_command, run, run_in_process

from speechbrain_ptssnn import export as export_module
from speechbrain_ptssnn.brain import NonFiniteError, PTSSNNBrain
from speechbrain_ptssnn.runs import FINGERPRINT_FILE, checkpoint_under_test

DIM = 32  #: precomputed features: a width a tiny random emotion2vec can have


@pytest.fixture(scope="module")
def emodb(tmp_path_factory):
    return build_emodb(tmp_path_factory.mktemp("emodb"))


@pytest.fixture(scope="module")
def finished(emodb, tmp_path_factory):
    """A finished 2-fold, 1-epoch run (filterbanks, feature cache inside the folder)."""
    output = tmp_path_factory.mktemp("finished") / "run"
    result, log = run(recipe_command("emodb", emodb, output, "--number_of_epochs=1"))
    assert result.returncode == 0, log[-4000:]
    return output


def copy_of(finished, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished, target)
    return target


def snapshot(folder):
    """Every file and folder under ``folder``: size, modification time and content hash."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_dir():
            found[key] = "folder"
        else:
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[key] = (stat.st_size, stat.st_mtime_ns, digest)
    return found


def results_of(folder):
    return {key: value for key, value in snapshot(folder).items() if not key.startswith("cache")}


# ------------------------------------------------------------ non-finite input
def precomputed_features(emodb, folder, nan_in=None):
    """One ``.npy`` per utterance; ten NaN frames in ``nan_in``'s."""
    for wav in (emodb / "wav").glob("*.wav"):
        (folder / "wav").mkdir(parents=True, exist_ok=True)
        array = numpy.random.default_rng(len(wav.stem)).normal(size=(12, DIM)).astype("float32")
        if wav.stem == nan_in:
            array[:10] = numpy.nan
        numpy.save(folder / "wav" / f"{wav.stem}.npy", array)
    return folder


def test_a_nan_feature_file_is_refused_with_its_path(emodb, tmp_path):
    features = precomputed_features(emodb, tmp_path / "features", nan_in="03a01Wa")
    command = recipe_command("emodb", emodb, tmp_path / "out", "--upstream=precomputed",
                             f"--features_folder={features}", f"--input_size={DIM}",
                             "--number_of_epochs=1")
    result, log = run(command)
    assert result.returncode != 0
    bad = features / "wav" / "03a01Wa.npy"
    assert f"{bad}: the precomputed features hold {10 * DIM} non-finite values" in log
    assert not list((tmp_path / "out").glob("fold_*/save"))


def test_a_nan_wav_is_refused_with_its_path(tmp_path):
    data = build_emodb(tmp_path / "emodb")
    bad = data / "wav" / "08b02Fa.wav"
    signal, rate = soundfile.read(bad, dtype="float32")
    signal[100:110] = numpy.nan
    soundfile.write(bad, signal, rate, subtype="FLOAT")
    result, log = run(recipe_command("emodb", data, tmp_path / "out", "--number_of_epochs=1"))
    assert result.returncode != 0
    assert f"{bad}: the audio holds 10 non-finite samples (NaN or infinity)" in log
    assert not list((tmp_path / "out").glob("fold_*/save"))


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_training_stops_at_the_first_non_finite_loss_or_gradient(
    where, emodb, tmp_path, monkeypatch
):
    original = PTSSNNBrain.compute_forward

    def poisoned(self, batch, stage):
        logits = original(self, batch, stage)
        if where == "loss":
            return logits * float("nan")
        logits.register_hook(lambda grad: grad * float("nan"))
        return logits

    monkeypatch.setattr(PTSSNNBrain, "compute_forward", poisoned)
    command = recipe_command("emodb", emodb, tmp_path, "--number_of_epochs=1", "--fold=1")
    with pytest.raises(NonFiniteError) as raised:
        run_in_process(monkeypatch, command)
    message = str(raised.value)
    expected = "the train loss is" if where == "loss" else "non-finite gradient of adapter."
    assert expected in message
    first_batch = message.split("batch of utterances ")[1].split(":")[0].split(", ")
    assert len(first_batch) == 8 and all(len(utt) == 7 for utt in first_batch)  # EMODB ids
    assert not list((tmp_path / "fold_1" / "save").glob("CKPT+*"))  # nothing poisoned is kept


# ------------------------------------------------------- reruns of a run folder
def test_a_rerun_with_other_fold_options_refuses_and_leaves_every_file(finished, emodb, tmp_path):
    folder = copy_of(finished, tmp_path)
    before = snapshot(folder)
    result, log = run(recipe_command("emodb", emodb, folder, "--number_of_epochs=1", "--n_folds=3"))
    assert result.returncode != 0
    assert f"refusing to run in {folder}" in log and "n_folds: 2 → 3" in log
    assert "another --output_folder" in log and "--overwrite=True" in log
    assert snapshot(folder) == before  # hyperparams.yaml, log.txt, checkpoints, metrics


def test_a_rerun_with_another_variant_or_epoch_count_refuses(finished, emodb, tmp_path):
    folder = copy_of(finished, tmp_path)
    before = snapshot(folder)
    for extra, difference in [(["--number_of_epochs=1", "--variant=only_shift"],
                               'variant: "full" → "only_shift"'),
                              (["--number_of_epochs=2"], "number_of_epochs: 1 → 2")]:
        result, log = run(recipe_command("emodb", emodb, folder, *extra))
        assert result.returncode != 0 and difference in log, log[-2000:]
        assert snapshot(folder) == before


def test_a_rerun_with_the_same_model_skips_its_folds_wherever_the_corpus_is(
        finished, emodb, tmp_path):
    folder = copy_of(finished, tmp_path)
    moved = tmp_path / "moved_emodb"
    shutil.copytree(emodb, moved)
    results = {k: v for k, v in results_of(folder).items() if k.endswith("metrics.json")}
    # run management (--fold, num_workers, tensorboard) is not part of the fingerprint
    result, log = run(recipe_command("emodb", moved, folder, "--number_of_epochs=1", "--fold=2",
                                     "--num_workers=0", "--use_tensorboard=False"))
    assert result.returncode == 0, log[-4000:]
    assert "fold 2 is finished (metrics.json exists): skipping" in log
    assert {k: v for k, v in results_of(folder).items() if k.endswith("metrics.json")} == results
    assert str(moved) in (folder / "fold_1" / "test.json").read_text()  # manifests follow it


def test_results_without_a_fingerprint_are_not_taken_for_this_runs(finished, emodb, tmp_path):
    from speechbrain_ptssnn.experiment import Experiment
    from speechbrain_ptssnn.runs import RunMismatchError

    folder = copy_of(finished, tmp_path)
    (folder / FINGERPRINT_FILE).unlink()  # as a folder written before fingerprints
    before = snapshot(folder)
    command = recipe_command("emodb", emodb, folder, "--number_of_epochs=1")
    overrides = dict(arg[2:].split("=", 1) for arg in command[3:])
    overrides = "\n".join(f"{key}: {value}" for key, value in overrides.items())
    with pytest.raises(RunMismatchError, match=f"no {FINGERPRINT_FILE} saying what produced them"):
        Experiment("emodb", command[2], overrides, {"device": "cpu"})
    assert snapshot(folder) == before


def test_overwrite_moves_the_old_results_aside(finished, emodb, tmp_path):
    folder = copy_of(finished, tmp_path)
    before = results_of(folder)
    result, log = run(recipe_command("emodb", emodb, folder, "--number_of_epochs=1", "--n_folds=3",
                                     "--fold=3", "--overwrite=True"))
    assert result.returncode == 0, log[-4000:]
    aside = [path for path in folder.iterdir() if path.name.startswith("previous-")]
    assert len(aside) == 1 and f"moved the old content of {folder} to {aside[0]}" in log
    moved = snapshot(aside[0])
    assert {key: value[2] for key, value in moved.items() if value != "folder"} == {
        key: value[2] for key, value in before.items() if value != "folder"}
    assert (folder / "fold_3" / "metrics.json").exists() and (folder / "cache").is_dir()
    assert '"n_folds": 3' in (folder / FINGERPRINT_FILE).read_text()


# --------------------------------------------------------------- option values
@pytest.mark.parametrize(
    "extra, message",
    [
        ("--batch_size=0", "--batch_size must be a whole number >= 1, got 0"),
        ("--lr=-1", "--lr must be a number > 0, got -1"),
        ("--number_of_epochs=0", "--number_of_epochs must be a whole number >= 1, got 0"),
    ],
)
def test_each_bad_option_value_is_one_message_and_no_folder(extra, message, emodb, tmp_path,
                                                            monkeypatch):
    folder = tmp_path / "never"
    command = recipe_command("emodb", emodb, folder, extra)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        run_in_process(monkeypatch, command)
    assert not folder.exists()


# ----------------------------------------------------------------- checkpoints
class _Mkdir:
    """Unpickling this runs ``os.mkdir(path)``: what a hostile checkpoint could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_a_tampered_checkpoint_is_refused_under_force_no_weights_only(finished, emodb, tmp_path):
    folder = copy_of(finished, tmp_path)
    marker = tmp_path / "code_ran"
    tested = checkpoint_under_test(str(folder / "fold_1")).path  # the default's CKPT+averaged
    last_epoch = next(c for c in (folder / "fold_1" / "save").glob("CKPT+*") if c != tested)
    (folder / "fold_1" / "metrics.json").unlink()  # so that a plain rerun resumes the fold
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", OMP_NUM_THREADS="1")
    # --test_only loads the tested adapter; a resume the last epoch's adapter, optimiser, scheduler
    for extra, checkpoint, tampered in [(["--test_only"], tested, "adapter.ckpt"),
                                        ([], last_epoch, "optimizer.ckpt")]:
        original = (checkpoint / tampered).read_bytes()
        torch.save({"weight": _Mkdir(str(marker))}, checkpoint / tampered)
        command = recipe_command("emodb", emodb, folder, "--number_of_epochs=1", "--fold=1", *extra)
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        log = result.stdout + result.stderr
        assert result.returncode != 0
        refused = f"{tampered}: not a plain checkpoint state, refusing to unpickle it"
        assert refused in log, log[-3000:]
        assert not marker.exists()
        (checkpoint / tampered).write_bytes(original)


# ---------------------------------------------------------------------- export
def test_an_export_refuses_an_upstream_the_adapter_never_saw(emodb, tmp_path, capsys):
    from emotion2vec_fixtures import make_model_dir

    from speechbrain_ptssnn.upstreams import emotion2vec_model_conf

    features = precomputed_features(emodb, tmp_path / "features")
    folder = tmp_path / "run"
    result, log = run(recipe_command("emodb", emodb, folder, "--upstream=precomputed",
                                     f"--features_folder={features}", f"--input_size={DIM}",
                                     "--number_of_epochs=1", "--fold=1"))
    assert result.returncode == 0, log[-4000:]
    out = tmp_path / "exported"
    assert export_module.main([str(folder), str(out), "--upstream", "fbank"]) == 1
    assert "Filterbanks are computed by the exported model itself" in capsys.readouterr().err
    assert export_module.main([str(folder), str(out), "--upstream", "emotion2vec"]) == 1
    assert "--upstream emotion2vec --upstream_source" in capsys.readouterr().err
    assert export_module.main([str(folder), str(out), "--upstream", "emotion2vec",
                               "--upstream_source", "iic/emotion2vec_base"]) == 1
    assert (f"gives 768-dim features but the adapter was trained on {DIM}-dim ones"
            in capsys.readouterr().err)
    assert not out.exists()
    conf = emotion2vec_model_conf(embed_dim=DIM, depth=1, num_heads=2, prenet_depth=1,
                                  conv_channels=16, decoder_dim=16, decoder_layers=1)
    producer = make_model_dir(tmp_path / "producer", conf)
    assert export_module.main([str(folder), str(out), "--upstream", "emotion2vec",
                               "--upstream_source", str(producer)]) == 0
    card = (out / "README.md").read_text()
    assert str(producer) in card and "named at export as the model that computed" in card
    assert f'upstream_source: "{producer}"' in (out / "hyperparams.yaml").read_text()
