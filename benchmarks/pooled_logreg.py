#!/usr/bin/env python3
"""Reference on the same features and folds: logistic regression on pooled frames.

Each utterance becomes the mean and standard deviation of its precomputed
frames (2 × dim values), standardised on the training part; a multinomial
logistic regression (scikit-learn, ``C`` chosen on the fold's validation part
from a small grid) is tested on the fold's test part. Writes
``benchmarks/results/<corpus>_<protocol>/pooled_logreg/fold_<k>.json`` like
``run_accuracy.py`` does.

Usage::

    python benchmarks/pooled_logreg.py --corpus emodb --data_folder ../shared/data/emodb \\
        --features_folder ~/feats/emodb_whisper_tiny --protocol stratified
"""

import argparse
import os
import sys

import numpy
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.atomic import write_json  # noqa: E402
from speechbrain_ptssnn.dataprep.manifest import read_manifest  # noqa: E402
from speechbrain_ptssnn.dataprep.prepare import prepare_corpus, select_emotions  # noqa: E402
from speechbrain_ptssnn.metrics import classification_metrics, confusion_matrix  # noqa: E402
from speechbrain_ptssnn.upstreams import PrecomputedFeatures  # noqa: E402

GRID = (0.01, 0.1, 1.0, 10.0)


def pooled(features, manifest, labels):
    """Mean and std of each utterance's frames (read as training reads them), and its class."""
    x, y = [], []
    for entry in manifest.values():
        frames = features.load(entry["wav"]).numpy()
        x.append(numpy.concatenate([frames.mean(0), frames.std(0)]))
        y.append(labels.index(entry["emo"]))
    return numpy.stack(x), numpy.array(y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--features_folder", required=True)
    parser.add_argument("--input_size", type=int, default=384, help="feature dimension")
    parser.add_argument("--protocol", default="stratified", choices=["stratified", "loso"])
    parser.add_argument("--work_folder", default="/tmp/pooled_logreg_folds")
    parser.add_argument("--results", default=os.path.join(REPO, "benchmarks", "results"))
    args = parser.parse_args(argv)
    data_folder = os.path.abspath(args.data_folder)
    labels = select_emotions(args.corpus, None)
    folds = prepare_corpus(args.corpus, data_folder, os.path.join(args.work_folder, args.corpus
                           + "_" + args.protocol), protocol=args.protocol)
    features = PrecomputedFeatures(args.features_folder, data_folder, args.input_size)
    scores = []
    for k, folder in enumerate(folds, start=1):
        split = {
            name: pooled(features, read_manifest(os.path.join(folder, f"{name}.json")), labels)
            for name in ("train", "valid", "test")
        }
        scaler = StandardScaler().fit(split["train"][0])
        def fit(c):
            return LogisticRegression(C=c, max_iter=2000).fit(
                scaler.transform(split["train"][0]), split["train"][1])
        best_c = max(GRID, key=lambda c: fit(c).score(
            scaler.transform(split["valid"][0]), split["valid"][1]))
        predicted = fit(best_c).predict(scaler.transform(split["test"][0]))
        confusion = confusion_matrix(split["test"][1], predicted, len(labels))
        metrics = classification_metrics(confusion)
        metrics["confusion"] = confusion.tolist()
        metrics.update(labels=labels, config="pooled_logreg", corpus=args.corpus,
                       protocol=args.protocol, fold=k, C=best_c)
        target = os.path.join(args.results, f"{args.corpus}_{args.protocol}", "pooled_logreg",
                              f"fold_{k}.json")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        write_json(target, metrics)
        scores.append(metrics["WA"])
        print(f"fold {k}: WA {metrics['WA']:.2f} UA {metrics['UA']:.2f} (C={best_c})", flush=True)
    print(f"mean WA {numpy.mean(scores):.2f} ± {numpy.std(scores, ddof=1):.2f}")


if __name__ == "__main__":
    main()
