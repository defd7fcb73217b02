#!/usr/bin/env python3
"""Deployment figures of one trained fold on its real test set: ONNX, NIR, calibration.

For a finished fold of a recipe run (any upstream, precomputed features
included: only the adapter is exported here, on the features the run read):

* **ONNX**: the adapter exported with its PLIF layers' spikes, run by
  onnxruntime on every test utterance (one at a time, as inference does, and
  in padded batches of 8): labels equal to PyTorch's, the largest logit
  difference, and how many spikes (valid neuron-frames) differ;
* **NIR**: the spiking part written as ``adapter.nir``, imported back
  (nirtorch with the PLIF arithmetic, and SpikingJelly's node mapping) and
  stepped through every test utterance: spikes that differ, labels and logits
  of the host computing from the chip's spikes; the host/chip split of this
  adapter and of the default configuration (hparams/ptssnn.yaml: input 768, 4 classes);
* **calibration**: the fold's ``calibration.json`` (the temperature fitted on
  the validation part; NLL and ECE, 10 bins, before and after on the test part).

Not a test. Usage::

    OMP_NUM_THREADS=1 python benchmarks/deployment_check.py RUN --fold 1 [--output check.json]
"""

import argparse
import json
import os
import sys
import tempfile

import torch
from hyperpyyaml import load_hyperpyyaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.export.nir_export import compare_nir, nir_graph, write_nir  # noqa: E402
from speechbrain_ptssnn.export.onnx_export import compare_onnx  # noqa: E402
from speechbrain_ptssnn.features import make_feature_source  # noqa: E402
from speechbrain_ptssnn.report.loading import read_test_set, rebuild_fold  # noqa: E402
from speechbrain_ptssnn.runs import CALIBRATION_FILE, fold_folder, read_json  # noqa: E402


def padded_batches(feats, size):
    for start in range(0, len(feats), size):
        group = feats[start : start + size]
        longest = max(f.shape[0] for f in group)
        padded = torch.zeros(len(group), longest, group[0].shape[1])
        for i, f in enumerate(group):
            padded[i, : f.shape[0]] = f
        yield padded, torch.tensor([f.shape[0] / longest for f in group])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a recipe's output folder")
    parser.add_argument("--fold", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rebuilt = rebuild_fold(args.run, args.fold)
    adapter, hparams = rebuilt["model"].cpu().eval(), rebuilt["hparams"]
    source = make_feature_source(hparams, device="cpu")
    test = read_test_set(rebuilt["folder"])
    feats = [source.load(entry["wav"]).float() for entry in test.values()]
    workdir = tempfile.mkdtemp(prefix="deployment-check-")

    onnx_single = compare_onnx(adapter, [(f[None], torch.ones(1)) for f in feats], workdir)
    onnx_padded = compare_onnx(adapter, padded_batches(feats, 8), workdir)

    graph_path = os.path.join(workdir, "adapter.nir")
    split = write_nir(adapter, graph_path)
    nir = {importer: compare_nir(adapter, graph_path, feats, importer)
           for importer in ("nirtorch", "spikingjelly")}
    default = load_hyperpyyaml(open(os.path.join(REPO, "hparams", "ptssnn.yaml")),
                               {"data_folder": "", "corpus": ""})["adapter"]
    _, default_split = nir_graph(default.eval())  # hparams/ptssnn.yaml: input 768, 4 classes

    result = {
        "run": os.path.abspath(args.run),
        "fold": args.fold,
        "test_utterances": len(feats),
        "frames": sum(int(f.shape[0]) for f in feats),
        "onnx": {"one_at_a_time": onnx_single, "padded_batches_of_8": onnx_padded},
        "nir": {"round_trip": nir, "split": split},
        "nir_default_configuration": {key: default_split[key] for key in
                                      ("chip", "host", "parameters", "neurons", "input",
                                       "output")},
        "calibration": read_json(os.path.join(fold_folder(args.run, args.fold),
                                              CALIBRATION_FILE)),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")


if __name__ == "__main__":
    main()
