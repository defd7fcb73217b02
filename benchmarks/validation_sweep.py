#!/usr/bin/env python3
"""Validation accuracy of one adapter configuration on one prepared fold.

How the benchmark's learning rate was chosen without looking at test parts:
trains the adapter of an hparams file (with overrides) on a fold's training
manifest, on precomputed features held in memory, with the hparams' loss,
optimiser and per-epoch scheduler, and prints training and validation
accuracy every 5 epochs. The test manifest is never read.

Usage::

    python benchmarks/validation_sweep.py ~/bench_runs/emodb_stratified/ptssnn/fold_1 \\
        --data_folder ../shared/data/emodb --features_folder ~/feats/emodb_whisper_tiny \\
        --epochs 30 lr=0.001 input_size=384
"""

import argparse
import json
import os
import sys

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.lobes.upstreams import PrecomputedFeatures  # noqa: E402


def load_split(fold_folder, split, features, labels):
    """The fold's features (as training reads them) and class indices."""
    with open(os.path.join(fold_folder, f"{split}.json"), encoding="utf-8") as stream:
        manifest = json.load(stream)
    feats = [features.load(entry["wav"]) for entry in manifest.values()]
    targets = torch.tensor([labels.index(entry["emo"]) for entry in manifest.values()])
    return feats, targets


def pad(feats):
    longest = max(len(f) for f in feats)
    batch = torch.zeros(len(feats), longest, feats[0].shape[1])
    for i, f in enumerate(feats):
        batch[i, : len(f)] = f
    return batch, torch.tensor([len(f) / longest for f in feats])


def accuracy(model, feats, targets):
    model.eval()
    with torch.no_grad():
        x, lengths = pad(feats)
        return 100.0 * (model(x, lengths).argmax(-1) == targets).float().mean().item()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fold_folder", help="a prepared fold (train.json, valid.json)")
    parser.add_argument("overrides", nargs="*", help="hparams overrides, key=value (YAML values)")
    parser.add_argument("--hparams", default=os.path.join(REPO, "hparams", "ptssnn.yaml"))
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--features_folder", required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_intermixed_args(argv)
    torch.set_num_threads(args.threads)

    with open(os.path.join(os.path.dirname(args.fold_folder), "prepare_options.json")) as stream:
        labels = json.load(stream)["options"]["emotions"]
    overrides = {"data_folder": args.data_folder, "corpus": "sweep", "n_classes": len(labels)}
    for item in args.overrides:
        key, value = item.split("=", 1)
        overrides[key] = yaml.safe_load(value)
    with open(args.hparams, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides)
    model = hparams["adapter"]
    optimizer = hparams["opt_class"](model.parameters())
    scheduler = hparams["lr_scheduler_class"](optimizer)
    loss_fn = hparams["compute_cost"]
    features = PrecomputedFeatures(args.features_folder, args.data_folder, hparams["input_size"])
    train = load_split(args.fold_folder, "train", features, labels)
    valid = load_split(args.fold_folder, "valid", features, labels)
    batch_size = hparams["batch_size"]
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train[0]))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            x, lengths = pad([train[0][i] for i in chosen])
            loss = loss_fn(model(x, lengths), train[1][chosen])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        if epoch % 5 == 0 or epoch == args.epochs:
            print(f"epoch {epoch}: train {accuracy(model, *train):.1f}  "
                  f"valid {accuracy(model, *valid):.1f}", flush=True)


if __name__ == "__main__":
    main()
