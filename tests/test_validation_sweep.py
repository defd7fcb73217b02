"""The validation sweep's summaries: what the defaults are chosen on."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "validation_sweep.py"
spec = importlib.util.spec_from_file_location("validation_sweep", SCRIPT)
validation_sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(validation_sweep)


def record(folder, name, setting, fold, wa, averaged=None):
    path = folder / name / setting / f"fold_{fold}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"name": name, "setting": setting, "fold": fold, "valid_WA_last": wa}
    if averaged is not None:
        result["valid_WA_averaged"] = averaged
    path.write_text(json.dumps(result))


def test_pairs_are_pooled_per_setting_on_shared_folds_only(tmp_path):
    for fold, (ref, cand) in enumerate([(80.0, 84.0), (90.0, 88.0)], start=1):
        record(tmp_path, "ref", "emodb_loso", fold, 0.0, averaged=ref)   # the averaged WA counts
        record(tmp_path, "cand", "emodb_loso", fold, cand)
    record(tmp_path, "cand", "emodb_loso", 3, 99.0)                      # no reference: left out
    record(tmp_path, "ref2", "urdu_stratified", 1, 70.0)
    record(tmp_path, "cand2", "urdu_stratified", 1, 76.0)
    pairs = [("cand", "ref"), ("cand2", "ref2")]
    lines = validation_sweep.pooled_differences(pairs, tmp_path).splitlines()
    assert lines[2] == "| emodb_loso | +1.00 ± 4.24 | 2 | 1 | 1 |"
    assert lines[3] == "| urdu_stratified | +6.00 ± 0.00 | 1 | 1 | 0 |"
    assert lines[4] == "| all | +2.67 ± 4.16 | 3 | 2 | 1 |"


def test_an_unknown_name_is_named(tmp_path):
    record(tmp_path, "ref", "emodb_loso", 1, 80.0)
    with pytest.raises(ValueError, match="'typo'"):
        validation_sweep.pooled_differences([("typo", "ref")], tmp_path)


def test_the_table_pairs_each_candidate_to_the_reference(tmp_path):
    record(tmp_path, "ref", "emodb_loso", 1, 80.0)
    record(tmp_path, "cand", "emodb_loso", 1, 83.0)
    rows = validation_sweep.table("ref", tmp_path).splitlines()
    assert rows[2] == "| cand | 83.0 (1) +3.0 | +3.00 (1) |"
    assert rows[3] == "| ref | 80.0 (1) | – |"


def test_a_setting_on_another_encoder_takes_its_own_features():
    features = {"emodb": "/tiny", "emodb_stratified_whisper_base": "/base"}
    assert validation_sweep.features_folder(features, "emodb_loso") == "/tiny"
    assert validation_sweep.features_folder(features, "emodb_stratified_whisper_base") == "/base"
    with pytest.raises(ValueError, match="--features urdu_loso_whisper_base=FOLDER"):
        validation_sweep.features_folder({"urdu": "/tiny"}, "urdu_loso_whisper_base")
    with pytest.raises(ValueError, match="'emodb_kfold'"):
        validation_sweep.split_setting("emodb_kfold")


def test_pairs_can_be_pooled_over_chosen_settings_only(tmp_path):
    pairs = [("emodb_loso", 80.0, 84.0), ("emodb_stratified_whisper_base", 80.0, 70.0)]
    for setting, ref, cand in pairs:
        record(tmp_path, "ref", setting, 1, ref)
        record(tmp_path, "cand", setting, 1, cand)
    table = validation_sweep.pooled_differences([("cand", "ref")], tmp_path, ["emodb_loso"])
    lines = table.splitlines()
    assert lines[2:] == ["| emodb_loso | +4.00 ± 0.00 | 1 | 1 | 0 |",
                         "| all | +4.00 ± 0.00 | 1 | 1 | 0 |"]
