#!/usr/bin/env python3
"""Accuracy benchmark: configurations × corpora × protocols, fold by fold.

Runs the real recipes (``recipes/<CORPUS>/train.py``) one fold at a time on
precomputed features, and copies each finished fold's ``metrics.json`` to
``benchmarks/results/<corpus>_<protocol>/<config>/fold_<k>.json`` at once, so
an interrupted benchmark resumes where it stopped (folds with a result file are
skipped; the training run itself also resumes from its checkpoints).

Every configuration gets the same budget: ``--epochs`` (30 by default: with
cosine warm restarts T0=10, Tmult=2 the run ends exactly at the end of the
second cycle, epochs 10 + 20).

Each recipe runs with ``--threads`` torch threads (one by default), so that
benchmark streams started side by side do not oversubscribe the cores: two
streams of two threads each on two cores train about four times slower.

Usage (features from ``shared/tools/whisper_features.py``)::

    python benchmarks/run_accuracy.py \\
        --corpus emodb --data_folder ../shared/data/emodb \\
        --features_folder ~/feats/emodb_whisper_tiny --input_size 384 \\
        --configs ptssnn linear vanilla_snn --protocol stratified \\
        --work_folder ~/bench_runs
"""

import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.atomic import write_json  # noqa: E402
from speechbrain_ptssnn.dataprep.prepare import prepare_corpus  # noqa: E402

#: configuration → (hparams file, its overrides); the ablations are override
#: sets of the default, as README documents them
CONFIGS = {
    "ptssnn": ("hparams/ptssnn.yaml", []),
    "ptssnn_paper": ("hparams/ptssnn_paper.yaml", []),
    "linear": ("hparams/baselines/linear.yaml", []),
    "vanilla_snn": ("hparams/baselines/vanilla_snn.yaml", []),
    **{
        name: ("hparams/ptssnn.yaml", [f"--variant={name}", f"--experiment_name={name}"])
        for name in ("no_prompt", "no_attention", "only_shift")
    },
}


def setting_name(args):
    """``<corpus>_<protocol>``, or the name ``--setting`` gives (e.g. another encoder)."""
    return args.setting or f"{args.corpus}_{args.protocol}"


def result_path(args, config, fold):
    return os.path.join(args.results, setting_name(args), config, f"fold_{fold}.json")


def recipe_environment(threads):
    """The environment a recipe runs in: ``threads`` OpenMP/MKL (torch) threads."""
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def run_fold(args, config, fold, run_folder):
    hparams_file, overrides = CONFIGS[config]
    command = [
        sys.executable, os.path.join(REPO, "recipes", args.corpus.upper(), "train.py"),
        os.path.join(REPO, hparams_file), *overrides,
        f"--data_folder={args.data_folder}", f"--output_folder={run_folder}",
        "--upstream=precomputed", f"--features_folder={args.features_folder}",
        f"--input_size={args.input_size}", f"--protocol={args.protocol}",
        f"--number_of_epochs={args.epochs}", f"--fold={fold}", *args.extra,
    ]
    started = time.time()
    subprocess.run(command, check=True, cwd=REPO, env=recipe_environment(args.threads))
    return time.time() - started


def save_result(args, config, label, fold, run_folder, seconds):
    with open(os.path.join(run_folder, f"fold_{fold}", "metrics.json"), encoding="utf-8") as stream:
        metrics = json.load(stream)
    metrics.update(config=config, label=label, setting=setting_name(args), corpus=args.corpus,
                   protocol=args.protocol, epochs=args.epochs, fold=fold,
                   seconds=round(seconds, 1), extra=args.extra)
    target = result_path(args, label, fold)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_json(target, metrics)
    return metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--features_folder", required=True)
    parser.add_argument("--input_size", type=int, required=True)
    parser.add_argument("--configs", nargs="+", default=["ptssnn"], choices=sorted(CONFIGS))
    parser.add_argument("--protocol", default="stratified", choices=["stratified", "loso"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--folds", type=int, nargs="*", help="only these folds (default all)")
    parser.add_argument("--work_folder", required=True, help="where runs and checkpoints go")
    parser.add_argument("--results", default=os.path.join(REPO, "benchmarks", "results"))
    parser.add_argument("--extra", action="append", default=[],
                        help="a recipe override, repeatable: --extra=--lr=0.001 --extra=--seed=2")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per recipe run (default 1: one per stream)")
    parser.add_argument("--label", help="name results and runs by this instead of the "
                        "configuration (one configuration only), e.g. ptssnn_gated")
    parser.add_argument("--setting", help="name of the setting (results folder) instead of "
                        "<corpus>_<protocol>, e.g. emodb_stratified_whisper_base")
    args = parser.parse_args(argv)
    if args.label and len(args.configs) > 1:
        parser.error("--label names one configuration's results: give one --configs")

    for config in args.configs:
        label = args.label or config
        run_folder = os.path.join(args.work_folder, setting_name(args), label)
        # the recipe's own preparation call with its default options: it skips it then
        folds = prepare_corpus(args.corpus, args.data_folder, run_folder, protocol=args.protocol)
        for fold in range(1, len(folds) + 1):
            if args.folds and fold not in args.folds:
                continue
            if os.path.exists(result_path(args, label, fold)):
                continue
            seconds = run_fold(args, config, fold, run_folder)
            metrics = save_result(args, config, label, fold, run_folder, seconds)
            print(f"{label} {setting_name(args)} fold {fold}: "
                  f"WA {metrics['WA']:.2f} UA {metrics['UA']:.2f} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
