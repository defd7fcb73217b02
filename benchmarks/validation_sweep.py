#!/usr/bin/env python3
"""Validation accuracy of configurations, fold by fold: how settings are chosen.

Trains an hparams file (with overrides) through the recipes' own
``PTSSNNBrain.fit`` on a fold's training part and records the validation
metrics of every epoch. The test manifest is never read: this is the only
evidence the project's defaults are chosen on.

Settings are the benchmark's: ``emodb_stratified``, ``emodb_loso``,
``urdu_stratified`` (and any ``<corpus>_<protocol>``), or one of them on
another encoder's features, ``<corpus>_<protocol>_<encoder>`` (e.g.
``emodb_stratified_whisper_base``, its features given as
``--features emodb_stratified_whisper_base=FOLDER``); folds are prepared
with the recipes' default options. Each finished (candidate, setting, fold)
is written at once to
``benchmarks/results/validation/<name>/<setting>/fold_<k>.json``, and skipped
on a rerun, so a sweep resumes where it stopped.

Usage (features from ``shared/tools/whisper_features.py``)::

    python benchmarks/validation_sweep.py --name gated \\
        --settings emodb_stratified emodb_loso urdu_stratified --folds 1 2 \\
        --features emodb=~/feats/emodb_whisper_tiny --features urdu=~/feats/urdu_whisper_tiny \\
        --data emodb=../shared/data/emodb --data urdu=../shared/data/urdu \\
        --work_folder ~/sweep lr=0.001 attention_gate=true attention_scaled=true

    python benchmarks/validation_sweep.py --table     # the summary table of every candidate
    python benchmarks/validation_sweep.py --pair avg5_vth05:pk_avg5 avg5_vth05_seed:avg5_seed
    python benchmarks/validation_sweep.py --pair avg5_vth05:linear_avg5 --settings emodb_loso
"""

import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.atomic import write_json  # noqa: E402

RESULTS = os.path.join(REPO, "benchmarks", "results", "validation")
#: validation WA is averaged over this many last epochs (less noisy than one epoch)
LAST_EPOCHS = 5


class TaggedValue(str):
    """An override given as a HyperPyYAML tag.

    E.g. ``neuron=!name:speechbrain_ptssnn.lobes.ReLUNeuron``.
    """


class EpochRecorder:
    """A ``train_logger`` that keeps every epoch's statistics (the averaged model's aside)."""

    def __init__(self):
        self.epochs = []

    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None,
                  verbose=False):
        if "epoch" in stats_meta:
            self.epochs.append({**stats_meta, "train": train_stats, "valid": valid_stats})


def train_on_fold(hparams_file, overrides, labels, device="cpu"):
    """Fits one configuration on a prepared fold: its per-epoch records, the averaged model's WA.

    ``overrides`` place the fold (``output_folder``, ``fold``); checkpoints go
    to a temporary folder, so candidates never share one. With
    ``average_last > 0`` (in the hparams or the overrides) the Brain averages
    the last epochs' weights at the end of ``fit``, and the second value
    returned is ``{"average_last": N, "valid_WA_averaged": ...}`` (that averaged
    model's validation WA); otherwise it is empty.
    """
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_ptssnn.brain import PTSSNNBrain
    from speechbrain_ptssnn.dataio import dataio_prep
    from speechbrain_ptssnn.features import make_feature_source

    recorder = EpochRecorder()
    with tempfile.TemporaryDirectory() as save:
        overrides = {**overrides, "save_folder": save}
        text = "".join(  # YAML text, so that tagged values (e.g. !name:...) pass through
            f"{key}: {value if isinstance(value, TaggedValue) else json.dumps(value)}\n"
            for key, value in overrides.items()
        )
        with open(hparams_file, encoding="utf-8") as stream:
            hp = load_hyperpyyaml(stream, text)
        brain = PTSSNNBrain(
            modules=hp["modules"],
            opt_class=hp["opt_class"],
            hparams=dict(hp, train_logger=recorder),
            run_opts={"device": device, "noprogressbar": True},
            checkpointer=hp["checkpointer"],
        )
        datasets = dataio_prep(hp, make_feature_source(hp), labels)
        brain.fit(
            hp["epoch_counter"],
            datasets["train"],
            datasets["valid"],
            train_loader_kwargs=hp["train_dataloader_options"],
            valid_loader_kwargs=hp["dataloader_options"],
        )
        averaged = getattr(brain, "averaged_metrics", None)
        if averaged is None:
            return recorder.epochs, {}
        return recorder.epochs, {"average_last": brain.average_last,
                                 "valid_WA_averaged": averaged["WA"]}


def split_setting(setting):
    """``(corpus, protocol, encoder)`` of a setting's name; ``encoder`` is None by default.

    Example
    -------
    >>> split_setting("emodb_loso")
    ('emodb', 'loso', None)
    >>> split_setting("emodb_stratified_whisper_base")
    ('emodb', 'stratified', 'whisper_base')
    """
    corpus, protocol, *encoder = setting.split("_", 2)
    if protocol not in ("stratified", "loso"):
        raise ValueError(f"setting {setting!r} is not <corpus>_<stratified|loso>[_<encoder>]")
    return corpus, protocol, encoder[0] if encoder else None


def features_folder(features, setting):
    """The features of a setting: given for the setting or, without an encoder, its corpus."""
    corpus, _, encoder = split_setting(setting)
    folder = features.get(setting) or (features.get(corpus) if encoder is None else None)
    if folder is None:
        wanted = setting if encoder else f"{corpus} (or {setting})"
        raise ValueError(f"no --features for setting {setting!r}: give --features {wanted}=FOLDER")
    return os.path.abspath(os.path.expanduser(folder))


def run(args):
    from speechbrain_ptssnn.dataprep.prepare import prepare_corpus

    torch.set_num_threads(args.threads)
    features = dict(item.split("=", 1) for item in args.features)
    data = dict(item.split("=", 1) for item in args.data)
    given = {}
    for item in args.overrides:
        key, value = item.split("=", 1)
        given[key] = TaggedValue(value) if value.startswith("!") else yaml.safe_load(value)
    for setting in args.settings:
        corpus, protocol, _ = split_setting(setting)
        feature_folder = features_folder(features, setting)
        output_folder = os.path.join(args.work_folder, setting)
        prepare_corpus(corpus, data[corpus], output_folder, protocol=protocol)
        options = os.path.join(args.work_folder, setting, "prepare_options.json")
        with open(options, encoding="utf-8") as stream:
            labels = json.load(stream)["options"]["emotions"]
        for fold in args.folds:
            target = os.path.join(RESULTS, args.name, setting, f"fold_{fold}.json")
            if os.path.exists(target):
                continue
            overrides = {
                "data_folder": os.path.abspath(os.path.expanduser(data[corpus])),
                "corpus": corpus,
                "n_classes": len(labels),
                "upstream": "precomputed",
                "features_folder": feature_folder,
                "input_size": args.input_size,
                "number_of_epochs": args.epochs,
                "output_folder": output_folder,
                "fold": fold,
                **given,
            }
            started = time.time()
            epochs, averaged = train_on_fold(args.hparams, overrides, labels)
            last = epochs[-LAST_EPOCHS:]
            result = {
                "name": args.name, "setting": setting, "fold": fold,
                "hparams": os.path.relpath(os.path.abspath(args.hparams), REPO),
                "overrides": given, "epochs": args.epochs,
                "valid_WA_last": statistics.mean(e["valid"]["WA"] for e in last),
                "valid_UA_last": statistics.mean(e["valid"]["UA"] for e in last),
                "seconds": round(time.time() - started, 1), "per_epoch": epochs,
            }
            result.update(averaged)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            write_json(target, result)
            print(f"{args.name} {setting} fold {fold}: valid WA (mean of last {LAST_EPOCHS} "
                  f"epochs) {result['valid_WA_last']:.1f} ({result['seconds']:.0f} s)", flush=True)


def load_results(folder=RESULTS):
    """Every recorded figure, ``{name: {setting: {fold: validation WA}}}``.

    The figure is the mean validation WA of the last epochs or, for a candidate
    run with ``average_last=N``, the validation WA of its averaged weights.
    """
    results = {}
    for path in glob.glob(os.path.join(folder, "*", "*", "fold_*.json")):
        with open(path, encoding="utf-8") as stream:
            r = json.load(stream)
        by_fold = results.setdefault(r["name"], {}).setdefault(r["setting"], {})
        by_fold[r["fold"]] = r.get("valid_WA_averaged", r["valid_WA_last"])
    return results


def table(reference=None, folder=RESULTS):
    """Markdown table: every candidate's validation WA per setting, paired to a reference."""
    results = load_results(folder)
    settings = sorted({s for by_setting in results.values() for s in by_setting})
    lines = ["| candidate | " + " | ".join(settings) + " | mean paired Δ |",
             "|---|" + "---:|" * (len(settings) + 1)]
    for name in sorted(results):
        cells, deltas = [], []
        for setting in settings:
            folds = results[name].get(setting, {})
            if not folds:
                cells.append("–")
                continue
            cell = f"{statistics.mean(folds.values()):.1f} ({len(folds)})"
            ref = results.get(reference, {}).get(setting, {}) if reference else {}
            paired = [folds[k] - ref[k] for k in folds if k in ref]
            if paired and name != reference:
                deltas.extend(paired)
                cell += f" {statistics.mean(paired):+.1f}"
            cells.append(cell)
        delta = f"{statistics.mean(deltas):+.2f} ({len(deltas)})" if deltas else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {delta} |")
    return "\n".join(lines)


def pooled_differences(pairs, folder=RESULTS, settings=None):
    """Paired validation-WA differences of candidates to references, pooled.

    A change is judged against the noise of the seed: run it at two seeds and
    pair each run to the reference at the same seed, then pool the pairs.

    Arguments
    ---------
    pairs : list of (str, str)
        ``(candidate, reference)`` names; each pair contributes the
        differences on the (setting, fold)s both ran.
    folder : str
        The validation results (``<name>/<setting>/fold_<k>.json``).
    settings : list of str, optional
        Pool only these settings (default: every setting both ran).

    Returns
    -------
    str
        Markdown table, a row per setting and one for all: mean ± sample
        standard deviation of the differences, their number, how many are
        above and below 0.
    """
    results = load_results(folder)
    by_setting = {}
    for candidate, reference in pairs:
        for name in (candidate, reference):
            if name not in results:
                raise ValueError(f"no validation results for {name!r} under {folder}")
        for setting, folds in results[candidate].items():
            if settings is not None and setting not in settings:
                continue
            ref = results[reference].get(setting, {})
            by_setting.setdefault(setting, []).extend(folds[k] - ref[k] for k in folds if k in ref)
    rows = sorted((s, d) for s, d in by_setting.items() if d)
    rows.append(("all", [x for _, d in rows for x in d]))
    lines = ["| setting | paired Δ (mean ± std) | folds | above | below |",
             "|---|---:|---:|---:|---:|"]
    for setting, deltas in rows:
        spread = statistics.stdev(deltas) if len(deltas) > 1 else 0.0
        above, below = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
        lines.append(f"| {setting} | {statistics.mean(deltas):+.2f} ± {spread:.2f} | "
                     f"{len(deltas)} | {above} | {below} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="hparams overrides, key=value (YAML values)")
    parser.add_argument("--name", help="the candidate's name (its results folder)")
    # the paper's form: a candidate is the paper plus its overrides (the sweeps of BENCHMARKS.md
    # ran on hparams/ptssnn.yaml when it was the paper's form, before the default changed)
    parser.add_argument("--hparams", default=os.path.join(REPO, "hparams", "ptssnn_paper.yaml"))
    parser.add_argument("--settings", nargs="+",
                        help="settings to run (default emodb_stratified); with --pair: to pool")
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--features", action="append", default=[], help="corpus=features folder")
    parser.add_argument("--data", action="append", default=[], help="corpus=data folder")
    parser.add_argument("--input_size", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work_folder", default=os.path.expanduser("~/sweep"))
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument("--reference", help="with --table: the candidate paired differences go to")
    parser.add_argument("--pair", nargs="+", metavar="CANDIDATE:REFERENCE",
                        help="print the pooled paired differences of these pairs and stop")
    args = parser.parse_intermixed_args(argv)
    if args.table:
        print(table(args.reference))
        return
    if args.pair:
        pairs = [tuple(pair.split(":")) for pair in args.pair]
        if any(len(pair) != 2 for pair in pairs):
            parser.error("--pair takes CANDIDATE:REFERENCE, e.g. avg5_vth05:pk_avg5")
        print(pooled_differences(pairs, settings=args.settings))
        return
    if not args.name:
        parser.error("--name is required to run a candidate")
    args.settings = args.settings or ["emodb_stratified"]
    run(args)


if __name__ == "__main__":
    main()
