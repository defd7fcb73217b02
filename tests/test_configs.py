"""Baseline and ablation hparams files: complete, consistent, and trainable by the recipes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from miniature_corpora import build_emodb
from speechbrain_ptssnn.lobes import PTSSNN
from speechbrain_ptssnn.lobes.linear_baseline import LinearBaseline

REPO = Path(__file__).resolve().parents[1]
HPARAMS = REPO / "hparams" / "ptssnn.yaml"
RECIPE = REPO / "recipes" / "EMODB" / "train.py"

#: config → (experiment_name, adapter class, PTSSNN variant or None)
CONFIGS = {
    "ptssnn_paper.yaml": ("ptssnn_paper", PTSSNN, "full"),
    "baselines/linear.yaml": ("linear", LinearBaseline, None),
    "baselines/vanilla_snn.yaml": ("vanilla_snn", PTSSNN, "vanilla"),
    "ablations/no_prompt.yaml": ("no_prompt", PTSSNN, "no_prompt"),
    "ablations/no_attention.yaml": ("no_attention", PTSSNN, "no_attention"),
    "ablations/only_shift.yaml": ("only_shift", PTSSNN, "only_shift"),
}

#: keys where each config may differ from hparams/ptssnn.yaml
INTENDED = {
    "baselines/linear.yaml": {
        "experiment_name", "output_folder", "linear_hidden_size",
        "number_of_epochs", "batch_size", "lr", "weight_decay",
    },
}
VARIANT_KEYS = {"experiment_name", "output_folder", "variant"}

#: the small, fast command line every config must accept
SMALL = [
    "--upstream=fbank", "--input_size=20", "--n_folds=2", "--fold=1", "--number_of_epochs=1",
    "--hidden_sizes=[16,8]", "--bias_hidden_size=4", "--batch_size=4",
]

REQUIRED = {"data_folder": "/nowhere", "corpus": "emodb"}


def top_level_keys(path):
    """Top-level keys of a HyperPyYAML file, in order (tags need no resolving)."""
    return [m.group(1) for m in re.finditer(r"^([A-Za-z_]\w*):", Path(path).read_text(), re.M)]


PLAIN = (str, int, float, bool, type(None))


def plain_values(hparams):
    return {
        key: value for key, value in hparams.items()
        if not key.startswith("__") and (
            isinstance(value, PLAIN)
            or isinstance(value, list) and all(isinstance(item, PLAIN) for item in value)
        )
    }


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_config_has_every_key_of_the_main_hparams(config):
    keys = top_level_keys(REPO / "hparams" / config)
    missing = [key for key in top_level_keys(HPARAMS) if key not in keys]
    assert not missing, f"hparams/{config} lacks keys of hparams/ptssnn.yaml: {missing}"
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_configs_differ_from_the_main_hparams_only_where_intended(config):
    with open(HPARAMS) as stream:
        main = plain_values(load_hyperpyyaml(stream, REQUIRED))
    with open(REPO / "hparams" / config) as stream:
        hparams = load_hyperpyyaml(stream, REQUIRED)
    values = plain_values(hparams)
    differing = {key for key in set(main) | set(values) if main.get(key, "∅") != values.get(key, "∅")}
    assert differing <= INTENDED.get(config, VARIANT_KEYS), differing
    name, adapter_class, variant = CONFIGS[config]
    assert hparams["experiment_name"] == name
    assert hparams["output_folder"] == f"results/emodb/{name}/{hparams['seed']}"
    assert type(hparams["adapter"]) is adapter_class
    if variant is not None:
        assert hparams["variant"] == hparams["adapter"].variant == variant


def test_the_linear_baseline_is_emotion2vecs_head_with_cross_entropy():
    with open(REPO / "hparams" / "baselines" / "linear.yaml") as stream:
        hparams = load_hyperpyyaml(stream, {**REQUIRED, "n_classes": 4})
    head = hparams["adapter"]
    assert head.pre_net.out_features == 256 and head.post_net.in_features == 256
    assert sum(p.numel() for p in head.parameters()) == 768 * 256 + 256 + 256 * 4 + 4
    logits = torch.randn(5, 4)
    targets = torch.tensor([0, 1, 2, 3, 1])
    expected = torch.nn.functional.cross_entropy(logits, targets)
    assert torch.allclose(hparams["compute_cost"](logits, targets), expected)
    optimizer = hparams["opt_class"](head.parameters())
    assert type(optimizer).__name__ == "RMSprop"
    assert type(hparams["lr_scheduler_class"](optimizer)).__name__ == "CyclicLR"


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_config_takes_the_same_command_line_keys(config):
    overrides = {"input_size": 20, "n_classes": 7, "hidden_sizes": [16, 8], "bias_hidden_size": 4}
    with open(REPO / "hparams" / config) as stream:
        hparams = load_hyperpyyaml(stream, {**REQUIRED, **overrides})
    model = hparams["adapter"].eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 9, 20), torch.tensor([1.0, 0.5]))
    assert logits.shape == (2, 7)


#: Runs recipes one after the other in ONE fresh interpreter (the real recipe
#: script, its own command-line parsing), recording each exit status: the
#: imports (~4 s) are paid once instead of once per config.
DRIVER = r"""
import json, runpy, sys, traceback
recipe, runs, status_file = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
status = {}
for name, argv in runs.items():
    sys.argv = [recipe, *argv]
    try:
        runpy.run_path(recipe, run_name="__main__")
        status[name] = [0, ""]
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        status[name] = [code, str(exit)]
    except BaseException:
        status[name] = [1, traceback.format_exc()]
    with open(status_file, "w") as stream:
        json.dump(status, stream)
"""


def train_configs(root, configs, data=None, extra=SMALL):
    """Trains each hparams file through ``recipes/EMODB/train.py`` on a miniature EMODB.

    Arguments
    ---------
    root : pathlib.Path
        Working folder (the corpus, outputs and logs go there).
    configs : list of str
        Hparams files relative to ``hparams/``.
    data : pathlib.Path, optional
        An EMODB-layout corpus (generated under ``root`` if None).
    extra : list of str
        Command-line overrides for every run.

    Returns
    -------
    dict
        config → ``(exit status, output folder, log text)``.
    """
    data = data or build_emodb(root / "emodb")
    runs, outputs = {}, {}
    for config in configs:
        output = root / config.replace("/", "_").replace(".yaml", "")
        outputs[config] = output
        runs[config] = [
            str(REPO / "hparams" / config), f"--data_folder={data}", f"--output_folder={output}",
            f"--feature_cache_folder={root}/cache", *extra,
        ]
    status_file = root / "status.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(RECIPE), json.dumps(runs), str(status_file)],
        capture_output=True, text=True, env=env, cwd=root, timeout=900,
    )
    log = result.stdout + result.stderr
    status = json.loads(status_file.read_text()) if status_file.exists() else {}
    return {
        config: (*status.get(config, [result.returncode or 1, ""]), outputs[config], log)
        for config in configs
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every config trained one epoch on fold 1 of a miniature EMODB."""
    return train_configs(tmp_path_factory.mktemp("configs"), sorted(CONFIGS))


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_each_config_trains_one_epoch_through_the_recipe(trained, config):
    returncode, error, output, log = trained[config]
    assert returncode == 0, (error or log)[-4000:]
    metrics = json.loads((output / "fold_1" / "metrics.json").read_text())
    assert 0.0 <= metrics["UA"] <= 100.0 and metrics["count"] > 0
    summary = json.loads((output / "summary.json").read_text())
    assert summary["configuration"]["hparams"]["experiment_name"] == CONFIGS[config][0]
    log_lines = (output / "fold_1" / "train_log.txt").read_text().splitlines()
    assert log_lines[0].startswith("epoch: 1")
