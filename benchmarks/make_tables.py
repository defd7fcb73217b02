#!/usr/bin/env python3
"""Markdown tables of the benchmark results in ``benchmarks/results``.

Accuracy: one table per corpus and protocol, one row per configuration, mean ±
sample standard deviation over the folds finished so far (their number is
shown: a partial row is marked), and the per-fold (paired) WA difference to
the linear baseline and to the paper's form (``ptssnn_paper``) on the same
folds. A configuration trained for another budget is named ``<config>_e<epochs>``
(``run_accuracy.py --label``) and paired with ``linear_e<epochs>``, the linear
baseline at that budget, when there is one. Energy: the efficiency reports of
first folds copied next to the results (``efficiency_fold_1.json``, from
``python -m speechbrain_ptssnn.report RUN --fold 1``), when present.

Usage::

    python benchmarks/make_tables.py            # prints the tables
    python benchmarks/make_tables.py --pair ptssnn ptssnn_noavg   # one paired difference
"""

import argparse
import glob
import json
import os
import re
import statistics

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ORDER = ["pooled_logreg", "linear", "ptssnn", "ptssnn_stride3", "ptssnn_vth1", "ptssnn_noavg",
         "linear_e70", "ptssnn_noavg_e70", "ptssnn_paper", "vanilla_snn", "no_prompt",
         "no_attention", "only_shift", "no_prompt_vth1", "no_attention_vth1", "only_shift_vth1"]
FOLDS = {"emodb_stratified": 10, "urdu_stratified": 10, "emodb_loso": 10,
         "emodb_stratified_whisper_base": 10}
#: results that are not a within-corpus benchmark setting
NOT_SETTINGS = {"validation", "cross_corpus", "deployment"}


def mean_std(values):
    if not values:
        return "–"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {std:.2f}"


def accuracy_tables():
    lines = []
    for setting in sorted(os.listdir(RESULTS)):
        folder = os.path.join(RESULTS, setting)
        if not os.path.isdir(folder) or setting in NOT_SETTINGS:
            continue
        lines += [f"### {setting}", "",
                  "| configuration | folds | WA | UA | F1 | WA − linear (same epochs), paired "
                  "| WA − ptssnn_paper, paired |",
                  "|---|---:|---:|---:|---:|---|---|"]
        configs = sorted(
            (c for c in os.listdir(folder) if os.path.isdir(os.path.join(folder, c))),
            key=lambda c: ORDER.index(c) if c in ORDER else 99,
        )
        results = {config: fold_results(folder, config) for config in configs}
        paper = {k: f["WA"] for k, f in results.get("ptssnn_paper", {}).items()}
        for config, folds in results.items():
            expected = FOLDS.get(setting)
            partial = expected and len(folds) < expected
            done = f"{len(folds)}" + (f" of {expected}" if partial else "")
            wa = {k: f["WA"] for k, f in folds.items()}
            reference = linear_reference(config, results)
            linear = {k: f["WA"] for k, f in results.get(reference, {}).items()}
            lines.append(
                f"| {config} | {done} | "
                + " | ".join(mean_std([f[m] for f in folds.values()]) for m in ("WA", "UA", "F1"))
                + f" | {paired(wa, linear) if config != reference else '–'}"
                + f" | {paired(wa, paper) if config != 'ptssnn_paper' else '–'} |"
            )
        lines.append("")
    return lines


def linear_reference(config, results):
    """The linear baseline ``config`` is paired with: ``linear_e<N>`` for ``<name>_e<N>``.

    >>> linear_reference("ptssnn_noavg_e70", {"linear": {}, "linear_e70": {}})
    'linear_e70'
    >>> linear_reference("ptssnn", {"linear": {}, "linear_e70": {}})
    'linear'
    """
    budget = re.search(r"_e\d+$", config)
    if budget and "linear" + budget.group() in results:
        return "linear" + budget.group()
    return "linear"


def fold_results(folder, config):
    """``{fold: its result}`` of one configuration."""
    folds = (json.load(open(p)) for p in glob.glob(os.path.join(folder, config, "fold_*.json")))
    return {f["fold"]: f for f in folds}


def paired(results, reference):
    """Mean ± std of the per-fold WA difference, and the folds where it is above."""
    common = sorted(set(results) & set(reference))
    if not common:
        return "–"
    differences = [results[k] - reference[k] for k in common]
    above = sum(d > 0 for d in differences)
    return f"{mean_std(differences)} (above in {above} of {len(common)})"


def pair_table(config, reference):
    """Per setting: ``config``'s paired WA difference to ``reference`` on their common folds."""
    lines = [f"| setting | WA {config} | WA {reference} | {config} − {reference}, paired |",
             "|---|---:|---:|---|"]
    for setting in sorted(os.listdir(RESULTS)):
        folder = os.path.join(RESULTS, setting)
        if not os.path.isdir(folder) or setting in NOT_SETTINGS:
            continue
        a, b = ({k: f["WA"] for k, f in fold_results(folder, name).items()}
                for name in (config, reference))
        common = sorted(set(a) & set(b))
        if common:
            lines.append(f"| {setting} ({len(common)} folds) | "
                         f"{mean_std([a[k] for k in common])} | "
                         f"{mean_std([b[k] for k in common])} | {paired(a, b)} |")
    return lines


def energy_table():
    """Parameters, energy and spiking health of each configuration's first fold."""
    lines = ["| setting | configuration | parameters | energy / sample (mJ) | ANN twin (mJ) "
             "| mean firing rate per PLIF layer | silent neurons |",
             "|---|---|---:|---:|---:|---|---|"]
    for path in sorted(glob.glob(os.path.join(RESULTS, "*", "*", "efficiency_fold_1.json"))):
        report = json.load(open(path))
        setting, config = path.split(os.sep)[-3:-1]
        layers = report["spiking"]["layers"]
        rates = ", ".join(f"{v['mean_rate']:.3f}" for v in layers.values()) or "–"
        silent = ", ".join(f"{100 * v['silent_fraction']:.0f} %" for v in layers.values()) or "–"
        energy = report["energy"]
        lines.append(
            f"| {setting} | {config} | {report['parameters']['total']:,} | "
            f"{energy['model']['per_sample']['energy_mj']:.3f} | "
            f"{energy['ann_twin']['per_sample']['energy_mj']:.3f} | {rates} | {silent} |"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pair", nargs=2, metavar=("CONFIG", "REFERENCE"),
                        help="only CONFIG's paired WA difference to REFERENCE, per setting")
    args = parser.parse_args()
    if args.pair:
        print("\n".join(pair_table(*args.pair)))
        raise SystemExit
    print("\n".join(accuracy_tables()))
    print("### Energy and spiking health (first fold)\n")
    print("\n".join(energy_table()))
