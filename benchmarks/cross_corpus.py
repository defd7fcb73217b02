#!/usr/bin/env python3
"""Cross-corpus benchmark: the train × test matrix of the corpora given, per configuration.

For each configuration and each training corpus, runs the real recipe once
with ``--fold=cross_corpus --test_corpora=<every other corpus>`` on
precomputed features: one model trained on the training corpus's utterances
of the classes all the corpora share (validation by whole speakers), tested
on every utterance of those classes of each other corpus. Each finished cell
is copied at once to ``benchmarks/results/cross_corpus/<config>/<train>_to_<test>.json``
(WA, UA, F1, their 95 % bootstrap intervals, the classes, the run's seconds),
so an interrupted benchmark resumes where it stopped (a training corpus whose
cells all have a result file is skipped). The matrix is printed at the end
(``--table`` prints it from the result files without running anything).

Usage (features from ``shared/tools/whisper_features.py``)::

    python benchmarks/cross_corpus.py \\
        --corpus emodb:../shared/data/emodb:~/feats/emodb_whisper_tiny \\
        --corpus urdu:../shared/data/urdu:~/feats/urdu_whisper_tiny \\
        --input_size 384 --configs linear --work_folder ~/bench_runs/cross_corpus
    python benchmarks/cross_corpus.py --corpus ... --configs ptssnn --extra=--lr=0.001 ...
    python benchmarks/cross_corpus.py --table              # the matrix of the stored results
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

from run_accuracy import recipe_environment  # noqa: E402

from speechbrain_ptssnn.atomic import write_json  # noqa: E402
from speechbrain_ptssnn.dataprep.cross_corpus import parse_test_corpora  # noqa: E402

#: configuration → (hparams file, its overrides), as in benchmarks/run_accuracy.py
CONFIGS = {
    "ptssnn": ("hparams/ptssnn.yaml", []),
    "ptssnn_paper": ("hparams/ptssnn_paper.yaml", []),
    "linear": ("hparams/baselines/linear.yaml", []),
    "vanilla_snn": ("hparams/baselines/vanilla_snn.yaml", []),
}
RESULTS = os.path.join(REPO, "benchmarks", "results", "cross_corpus")


def result_path(results, label, train, test):
    return os.path.join(results, label, f"{train}_to_{test}.json")


def run_training_corpus(args, config, label, train, corpora):
    """One recipe run: trains on ``train``, tests on every other corpus; returns seconds."""
    hparams_file, overrides = CONFIGS[config]
    targets = ",".join(f"{t.name}:{t.data_folder}:{t.features_folder}"
                       for t in corpora if t.name != train.name)
    command = [
        sys.executable, os.path.join(REPO, "recipes", train.name.upper(), "train.py"),
        os.path.join(REPO, hparams_file), *overrides,
        f"--data_folder={train.data_folder}",
        f"--output_folder={os.path.join(args.work_folder, label, train.name)}",
        "--upstream=precomputed", f"--features_folder={train.features_folder}",
        f"--input_size={args.input_size}", f"--number_of_epochs={args.epochs}",
        "--fold=cross_corpus", f"--test_corpora={targets}", *args.extra,
    ]
    started = time.time()
    subprocess.run(command, check=True, cwd=REPO, env=recipe_environment(args.threads))
    return time.time() - started


def save_results(args, config, label, train, seconds):
    """Copies each target's cross-corpus results (from summary.json) to its result file."""
    run_folder = os.path.join(args.work_folder, label, train.name)
    with open(os.path.join(run_folder, "summary.json"), encoding="utf-8") as stream:
        summary = json.load(stream)
    saved = {}
    for test, result in summary["cross_corpus"].items():
        record = {key: result[key] for key in ("WA", "UA", "F1", "count", "labels", "recall",
                                                "confusion", "bootstrap") if key in result}
        record.update(config=config, label=label, train=train.name, test=test,
                      epochs=args.epochs, seconds=round(seconds, 1), extra=args.extra,
                      leakage=summary.get("leakage"))
        write_json(result_path(args.results, label, train.name, test), record)
        saved[test] = record
    return saved


def read_results(results):
    """label → (train, test) → record, of every stored result file."""
    table = {}
    for path in sorted(glob.glob(os.path.join(results, "*", "*_to_*.json"))):
        with open(path, encoding="utf-8") as stream:
            record = json.load(stream)
        table.setdefault(record["label"], {})[(record["train"], record["test"])] = record
    return table


def _cell(record, metric):
    interval = (record.get("bootstrap") or {}).get(metric)
    if not interval:
        return f"{record[metric]:.1f}"
    return f"{record[metric]:.1f} [{interval['low']:.1f}, {interval['high']:.1f}]"


def matrix_tables(results):
    """Markdown: per configuration, rows = training corpus, columns = test corpus, WA and UA."""
    lines = []
    for label, cells in sorted(read_results(results).items()):
        corpora = sorted({name for pair in cells for name in pair})
        classes = sorted({", ".join(r["labels"]) for r in cells.values()})
        lines += [f"### {label}", "", f"Classes: {'; '.join(classes)}. WA / UA (%), in brackets "
                  "the 95 % bootstrap interval over the test corpus's utterances.", "",
                  "| train \\ test | " + " | ".join(corpora) + " |",
                  "|---|" + "---:|" * len(corpora)]
        for train in corpora:
            row = []
            for test in corpora:
                record = cells.get((train, test))
                row.append("–" if record is None else
                           f"{_cell(record, 'WA')} / {_cell(record, 'UA')} "
                           f"({record['count']} utt.)")
            lines.append(f"| {train} | " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", default=[],
                        help="name:data_folder:features_folder, repeated (two or more)")
    parser.add_argument("--input_size", type=int)
    parser.add_argument("--configs", nargs="+", default=["ptssnn"], choices=sorted(CONFIGS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--work_folder", help="where runs and checkpoints go")
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--extra", action="append", default=[],
                        help="a recipe override, repeatable: --extra=--lr=0.001")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per recipe run (default 1)")
    parser.add_argument("--label", help="name results by this instead of the configuration "
                        "(one configuration only), e.g. ptssnn_gated")
    parser.add_argument("--table", action="store_true",
                        help="only print the matrix of the stored results")
    args = parser.parse_args(argv)
    if args.table:
        print(matrix_tables(args.results))
        return
    corpora = parse_test_corpora(args.corpus)
    if len(corpora) < 2 or any(not c.features_folder for c in corpora):
        parser.error("give two --corpus name:data_folder:features_folder or more")
    if args.input_size is None or args.work_folder is None:
        parser.error("--input_size and --work_folder are required to run")
    if args.label and len(args.configs) > 1:
        parser.error("--label names one configuration's results: give one --configs")
    for config in args.configs:
        label = args.label or config
        for train in corpora:
            tests = [c.name for c in corpora if c.name != train.name]
            if all(os.path.exists(result_path(args.results, label, train.name, t)) for t in tests):
                continue
            seconds = run_training_corpus(args, config, label, train, corpora)
            for test, record in save_results(args, config, label, train, seconds).items():
                print(f"{label} {train.name} → {test}: WA {record['WA']:.2f} UA {record['UA']:.2f} "
                      f"({seconds:.0f} s)", flush=True)
    print(matrix_tables(args.results))


if __name__ == "__main__":
    main()
