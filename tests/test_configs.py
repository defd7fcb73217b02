"""Baseline and ablation hparams files: complete, consistent, and trainable by the recipes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml
from miniature_corpora import build_emodb

from speechbrain_ptssnn.brain import warm_restart_cycle_ends
from speechbrain_ptssnn.lobes import PTSSNN
from speechbrain_ptssnn.lobes.linear_baseline import LinearBaseline

REPO = Path(__file__).resolve().parents[1]
HPARAMS = REPO / "hparams" / "ptssnn.yaml"
RECIPE = REPO / "recipes" / "EMODB" / "train.py"

#: config → (experiment_name, adapter class, PTSSNN variant or None)
CONFIGS = {
    "ptssnn.yaml": ("ptssnn", PTSSNN, "full"),
    "ptssnn_paper.yaml": ("ptssnn_paper", PTSSNN, "full"),
    "baselines/linear.yaml": ("linear", LinearBaseline, None),
    "baselines/vanilla_snn.yaml": ("vanilla_snn", PTSSNN, "vanilla"),
}

#: The ablations (the paper's Table V) are override sets of hparams/ptssnn.yaml,
#: as README documents them: the variant, named after itself.
ABLATIONS = {name: [f"--variant={name}", f"--experiment_name={name}"]
             for name in ("no_prompt", "no_attention", "only_shift")}

#: keys every hparams file holds: those the recipes, benchmarks and report pass
#: or read (named in the header comment of hparams/baselines/linear.yaml)
COMMON_KEYS = [
    "seed", "data_folder", "corpus", "experiment_name", "output_folder", "protocol",
    "n_folds", "emotions", "valid_ratio", "fold_seed", "fold", "overwrite", "fold_folder",
    "save_folder", "train_log", "upstream", "upstream_source", "features_folder",
    "feature_cache_folder",
    "storage_dtype", "input_size", "n_classes", "adapter", "compute_cost", "number_of_epochs",
    "batch_size", "num_workers", "sorting", "best_metric", "average_last", "use_tensorboard",
    "efficiency_report", "initial_state", "lr", "opt_class", "lr_scheduler_class",
    "epoch_counter", "modules", "label_encoder", "dataloader_options",
    "train_dataloader_options", "checkpointer", "train_logger",
    "partitions", "data_root_placeholder", "test_corpora",
]

#: where hparams/ptssnn.yaml (the best validated model) departs from the paper
DEVIATIONS = {
    "experiment_name", "output_folder", "fold_folder", "save_folder", "train_log",
    "lr", "attention_gate", "attention_scaled",
    "input_encoding", "spiking_qkv", "readout", "spike_dropout", "time_drop_count",
    "channel_drop_count", "mixup_alpha", "learn_output_scale", "surrogate_steepness",
    "projection_shortcuts", "hidden_sizes", "distill_weight", "distill_temperature",
    "attention_key_dim", "frame_stride", "average_last",
    "focal_alpha", "focal_gamma", "label_smoothing", "focal_weight", "smoothing_weight",
    "number_of_epochs", "weight_decay", "kappa", "v_threshold",
}

#: the small, fast command line every config accepts, and each one's model size
SMALL = ["--upstream=fbank", "--input_size=20", "--n_folds=2", "--fold=1",
         "--number_of_epochs=1", "--batch_size=4"]
SIZES = {
    "ptssnn.yaml": ["--hidden_sizes=[16,8]", "--bias_hidden_size=4"],
    "ptssnn_paper.yaml": ["--hidden_sizes=[16,8]", "--bias_hidden_size=4"],
    "baselines/linear.yaml": ["--linear_hidden_size=8"],
    "baselines/vanilla_snn.yaml": ["--hidden_size=8"],
}

REQUIRED = {"data_folder": "/nowhere", "corpus": "emodb"}
#: the same as YAML text, to which overrides with tags (``!name:...``) can be appended
REQUIRED_YAML = "".join(f"{key}: {value}\n" for key, value in REQUIRED.items())


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


def size_overrides(config):
    return {key.lstrip("-"): yaml.safe_load(value)
            for key, value in (item.split("=", 1) for item in SIZES[config])}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_config_holds_the_common_keys_once(config):
    keys = top_level_keys(REPO / "hparams" / config)
    missing = [key for key in COMMON_KEYS if key not in keys]
    assert not missing, f"hparams/{config} lacks keys every recipe passes: {missing}"
    assert len(keys) == len(set(keys))


def test_the_default_departs_from_the_paper_only_in_the_listed_deviations():
    paper_file = REPO / "hparams" / "ptssnn_paper.yaml"
    assert top_level_keys(HPARAMS) == top_level_keys(paper_file)
    with open(paper_file) as stream:
        paper = plain_values(load_hyperpyyaml(stream, REQUIRED))
    with open(HPARAMS) as stream:
        default = plain_values(load_hyperpyyaml(stream, REQUIRED))
    differing = {key for key in paper if paper[key] != default[key]}
    assert differing <= DEVIATIONS, differing - DEVIATIONS


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_each_config_builds_its_adapter(config):
    with open(REPO / "hparams" / config) as stream:
        hparams = load_hyperpyyaml(stream, REQUIRED)
    name, adapter_class, variant = CONFIGS[config]
    assert hparams["experiment_name"] == name
    assert hparams["output_folder"] == f"results/emodb/{name}/{hparams['seed']}"
    assert type(hparams["adapter"]) is adapter_class
    assert hparams["modules"]["adapter"] is hparams["adapter"]
    if variant is not None:
        assert hparams["adapter"].variant == variant


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
def test_every_config_takes_its_size_overrides(config):
    overrides = {"input_size": 20, "n_classes": 7, **size_overrides(config)}
    with open(REPO / "hparams" / config) as stream:
        hparams = load_hyperpyyaml(stream, {**REQUIRED, **overrides})
    model = hparams["adapter"].eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 9, 20), torch.tensor([1.0, 0.5]))
    assert logits.shape == (2, 7)


@pytest.mark.parametrize("config",
                         ["ptssnn.yaml", "ptssnn_paper.yaml", "baselines/vanilla_snn.yaml"])
def test_the_surrogate_key_reaches_every_plif_layer(config):
    from spikingjelly.activation_based import surrogate

    def surrogates(overrides):
        with open(REPO / "hparams" / config) as stream:
            hparams = load_hyperpyyaml(stream, REQUIRED_YAML + overrides)
        return {(type(m.surrogate_function), m.surrogate_function.alpha)
                for m in hparams["adapter"].modules() if hasattr(m, "surrogate_function")}

    assert surrogates("") == {(surrogate.Sigmoid, 5.0)}
    atan = ("surrogate: !name:spikingjelly.activation_based.surrogate.ATan\n"
            "surrogate_steepness: 2.0\n")
    assert surrogates(atan) == {(surrogate.ATan, 2.0)}


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
    """Trains each configuration through ``recipes/EMODB/train.py`` on a miniature EMODB.

    Arguments
    ---------
    root : pathlib.Path
        Working folder (the corpus, outputs and logs go there).
    configs : dict
        name → ``[hparams file relative to hparams/, *its own overrides]``.
    data : pathlib.Path, optional
        An EMODB-layout corpus (generated under ``root`` if None).
    extra : list of str
        Command-line overrides for every run.

    Returns
    -------
    dict
        name → ``(exit status, error, output folder, log text)``.
    """
    data = data or build_emodb(root / "emodb")
    runs, outputs = {}, {}
    for name, (config, *own) in configs.items():
        output = root / name.replace("/", "_").replace(".yaml", "")
        outputs[name] = output
        runs[name] = [
            str(REPO / "hparams" / config), f"--data_folder={data}", f"--output_folder={output}",
            f"--feature_cache_folder={root}/cache", *extra, *own,
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
        name: (*status.get(name, [result.returncode or 1, ""]), outputs[name], log)
        for name in configs
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Every config and ablation trained one epoch on fold 1 of a miniature EMODB."""
    configs = {config: [config, *SIZES[config]] for config in CONFIGS}
    for name, overrides in ABLATIONS.items():
        configs[name] = ["ptssnn.yaml", *SIZES["ptssnn.yaml"], *overrides]
    return train_configs(tmp_path_factory.mktemp("configs"), configs)


@pytest.mark.parametrize("config", [*sorted(CONFIGS), *ABLATIONS])
def test_each_config_trains_one_epoch_through_the_recipe(trained, config):
    returncode, error, output, log = trained[config]
    assert returncode == 0, (error or log)[-4000:]
    metrics = json.loads((output / "fold_1" / "metrics.json").read_text())
    assert 0.0 <= metrics["UA"] <= 100.0 and metrics["count"] > 0
    summary = json.loads((output / "summary.json").read_text())
    name = CONFIGS[config][0] if config in CONFIGS else config
    assert summary["configuration"]["hparams"]["experiment_name"] == name
    if config in ABLATIONS:
        assert summary["configuration"]["hparams"]["variant"] == config
    log_lines = (output / "fold_1" / "train_log.txt").read_text().splitlines()
    assert log_lines[0].startswith("epoch: 1")


def test_the_defaults_averaged_epochs_end_a_warm_restart_cycle():
    with open(HPARAMS) as stream:
        hparams = load_hyperpyyaml(stream, REQUIRED)
    scheduler = hparams["lr_scheduler_class"](torch.optim.SGD([torch.zeros(1)], lr=1.0))
    epochs = hparams["number_of_epochs"]
    assert hparams["average_last"] > 0
    assert epochs in warm_restart_cycle_ends(scheduler.T_0, scheduler.T_mult, epochs)
