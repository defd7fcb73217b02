#!/usr/bin/env python3
"""The adapter's latency: onnxruntime on ``adapter.onnx`` against PyTorch, one utterance.

By default the default PTS-SNN adapter (input 768, 4 classes, random weights:
they cost the same as trained ones) on a 5 s utterance (250 frames at 50 Hz);
``--source`` times an exported model folder's adapter (``--onnx`` export), ``--run
RUN --fold K`` a trained fold's adapter (exported on the fly), at its input size.
The upstream is not timed (see
``benchmarks/inference_latency.py``): only ``features -> logits``.

Timed, median over ``--runs`` after two warm-ups, at ``--threads`` threads:

* ``torch_fused_ms``: PyTorch, the PLIF layers on their default backend (the
  fused Numba recurrence on the CPU, what training uses);
* ``torch_plain_ms``: PyTorch with the plain-PyTorch PLIF recurrence (the
  loop the ONNX graph holds, without SpikingJelly or Numba);
* ``onnxruntime_ms``: onnxruntime on the exported graph.

Not a test. Usage::

    OMP_NUM_THREADS=1 python benchmarks/onnx_latency.py --threads 1
    OMP_NUM_THREADS=1 python benchmarks/onnx_latency.py --source exported/ptssnn-emodb
    OMP_NUM_THREADS=1 python benchmarks/onnx_latency.py --run results/emodb/ptssnn/1986 --fold 1
"""

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speechbrain_ptssnn.export.onnx_export import export_onnx, plif_layers  # noqa: E402
from speechbrain_ptssnn.inference.onnx_adapter import onnx_session, run_session  # noqa: E402
from speechbrain_ptssnn.lobes import PTSSNN  # noqa: E402


def timed(function, runs):
    function()
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return round(1000 * statistics.median(times), 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="utterance length")
    parser.add_argument("--frame_rate", type=float, default=50.0, help="upstream frames per s")
    parser.add_argument("--runs", type=int, default=20, help="timed runs (median reported)")
    parser.add_argument("--source", default=None, help="an exported model folder (with --onnx)")
    parser.add_argument("--run", default=None, help="a recipe's output folder: time its fold's "
                        "adapter (--fold), exported here")
    parser.add_argument("--fold", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    workdir = tempfile.mkdtemp(prefix="onnx-latency-")
    if args.source:
        from speechbrain_ptssnn.inference import EmotionRecognizer

        model = EmotionRecognizer.from_hparams(args.source, run_opts={"device": "cpu"},
                                               backend="torch")
        adapter = model.mods.adapter.eval()
        onnx_path = os.path.join(args.source, "adapter.onnx")
        described = f"the adapter of {args.source}"
    elif args.run:
        from speechbrain_ptssnn.report.loading import rebuild_fold

        adapter = rebuild_fold(args.run, args.fold)["model"].cpu().eval()
        onnx_path = export_onnx(adapter, os.path.join(workdir, "adapter.onnx"))
        described = f"the adapter of fold {args.fold} of {args.run}"
    else:
        torch.manual_seed(0)
        adapter = PTSSNN(input_size=768, n_classes=4).eval()
        onnx_path = export_onnx(adapter, os.path.join(workdir, "adapter.onnx"))
        described = "the default adapter (input 768, 4 classes, random weights)"
    frames = int(round(args.seconds * args.frame_rate))
    feats = torch.randn(1, frames, adapter.input_size)
    lengths = torch.ones(1)

    fused = copy.deepcopy(adapter)
    for _, layer in plif_layers(fused):
        layer.backend = "auto"
    plain = copy.deepcopy(adapter)
    for _, layer in plif_layers(plain):
        layer.backend = "torch"
    session = onnx_session(onnx_path, threads=args.threads)

    with torch.no_grad():
        result = {
            "model": described,
            "frames": frames,
            "seconds": args.seconds,
            "threads": args.threads,
            "torch_fused_ms": timed(lambda: fused(feats, lengths), args.runs),
            "torch_plain_ms": timed(lambda: plain(feats, lengths), args.runs),
            "onnxruntime_ms": timed(lambda: run_session(session, feats, lengths), args.runs),
            "torch": torch.__version__,
            "onnxruntime": __import__("onnxruntime").__version__,
        }
        result["max_logit_difference"] = float(
            (fused(feats, lengths) - torch.from_numpy(run_session(session, feats, lengths)[0]))
            .abs().max())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
