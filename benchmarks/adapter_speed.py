#!/usr/bin/env python3
"""Speed of the PTS-SNN adapter against its ANN twin, on the CPU.

Measured side by side in one process, alternating the variants so that load
changes hit them alike; medians over ``--repeats`` runs after a warm-up:

* train step (forward + backward) of the default adapter
  (``hparams/ptssnn.yaml``, input 768, 4 classes) on a ``[32, 250, 768]``
  batch: PLIF through SpikingJelly's multi-step node, through the fused
  recurrence (the default on the CPU), and the ANN twin (ReLU instead of
  PLIF); the ratios to the twin;
* single-utterance inference latency on a 5 s utterance (250 frames), eval
  mode, no gradients.

With ``--compile`` it measures ``torch.compile`` instead: the train step of
the ANN twin and of the SpikingJelly-backed adapter, each compiled, with the
time of the first (compiling) call. The fused backend is left out: Numba's
loop is opaque to the compiler.

Not a test. Usage::

    python benchmarks/adapter_speed.py --threads 1
    python benchmarks/adapter_speed.py --threads 2 --repeats 7 --json speed.json
    python benchmarks/adapter_speed.py --threads 1 --repeats 3 --compile
"""

import argparse
import inspect
import os
import platform
import statistics
import sys
import time

import torch
from hyperpyyaml import load_hyperpyyaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_ptssnn.atomic import write_json  # noqa: E402
from speechbrain_ptssnn.lobes import PLIF, PTSSNN, ReLUNeuron  # noqa: E402


def build(kind, hparams_file=os.path.join(REPO, "hparams", "ptssnn.yaml")):
    """The adapter of an hparams file (input 768, 4 classes) with a PLIF backend,
    or its ANN twin."""
    torch.manual_seed(0)
    with open(hparams_file, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, {"data_folder": "", "corpus": "", "input_size": 768,
                                            "n_classes": 4})
    if kind == "ann_twin":
        names = set(inspect.signature(PTSSNN).parameters) - {"neuron"}
        return PTSSNN(**{k: v for k, v in hparams.items() if k in names}, neuron=ReLUNeuron)
    model = hparams["adapter"]
    for module in model.modules():
        if isinstance(module, PLIF):
            module.backend = kind
    return model


def train_step(model, x, lengths):
    model.zero_grad(set_to_none=True)
    model(x, lengths).sum().backward()


def timed(function, *args):
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def compiled_train_steps(args):
    """Train step of the compiled ANN twin and SpikingJelly adapter."""
    x, lengths = torch.randn(32, 250, 768), torch.ones(32)
    results = {"threads": args.threads, "torch": torch.__version__, "compile": {}}
    for kind in ("ann_twin", "spikingjelly"):
        model = build(kind)
        compiled = torch.compile(model)
        first = timed(train_step, compiled, x, lengths)
        steps = [timed(train_step, compiled, x, lengths) for _ in range(args.repeats)]
        results["compile"][kind] = {"first_call_s": first, "train_step_s": statistics.median(steps)}
        print(f"compiled {kind}: first call {first:.1f} s, "
              f"train step {statistics.median(steps):.3f} s", flush=True)
    if args.json:
        write_json(args.json, results)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--compile", action="store_true", help="measure torch.compile instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compile:
        return compiled_train_steps(args)

    kinds = ["spikingjelly", "fused", "ann_twin"]
    models = {kind: build(kind) for kind in kinds}
    x, lengths = torch.randn(32, 250, 768), torch.ones(32)
    steps = {kind: [] for kind in kinds}
    for repeat in range(args.repeats + 1):
        for kind in kinds:
            seconds = timed(train_step, models[kind], x, lengths)
            if repeat:  # the first round warms up (and compiles the fused kernels)
                steps[kind].append(seconds)

    utterance = torch.randn(1, 250, 768)
    latency = {kind: [] for kind in kinds}
    with torch.no_grad():
        for model in models.values():
            model.eval()
        for repeat in range(10 * args.repeats + 1):
            for kind in kinds:
                seconds = timed(models[kind], utterance)
                if repeat:
                    latency[kind].append(seconds)

    results = {
        "threads": args.threads,
        "torch": torch.__version__,
        "processor": platform.processor() or platform.machine(),
        "train_step_s": {k: statistics.median(v) for k, v in steps.items()},
        "inference_5s_ms": {k: 1000 * statistics.median(v) for k, v in latency.items()},
    }
    twin = results["train_step_s"]["ann_twin"]
    results["train_step_ratio_to_ann_twin"] = {
        k: results["train_step_s"][k] / twin for k in ("spikingjelly", "fused")
    }
    print(f"threads: {args.threads}, torch {torch.__version__}, median of {args.repeats}")
    print("train step [32, 250, 768] (s):  " + "  ".join(
        f"{k} {v:.3f}" for k, v in results["train_step_s"].items()))
    print("ratio to the ANN twin:          " + "  ".join(
        f"{k} {v:.2f}x" for k, v in results["train_step_ratio_to_ann_twin"].items()))
    print("inference, 5 s utterance (ms):  " + "  ".join(
        f"{k} {v:.1f}" for k, v in results["inference_5s_ms"].items()))
    if args.json:
        write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
