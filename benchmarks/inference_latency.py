#!/usr/bin/env python3
"""CPU latency of ``EmotionRecognizer.classify_file``, split into upstream and adapter.

By default, offline: a random-weight emotion2vec of the **base** architecture
(768 dims, 8 + 4 blocks, ~94 M parameters, in FunASR's on-disk format; random
weights cost the same as real ones) and the default PTS-SNN adapter (input
768, 4 classes, random weights), on a 5 s utterance. ``--source`` times an
exported model folder instead.

Per run (median over ``--runs`` after one warm-up):

* ``upstream_ms``: ``compute_features`` (emotion2vec + storage-dtype rounding);
* ``adapter_ms``: the adapter on those features;
* ``classify_file_ms``: the whole call, audio reading included.

Not a test. Usage::

    python benchmarks/inference_latency.py --threads 1
    python benchmarks/inference_latency.py --source exported/ptssnn-emodb --seconds 5
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import soundfile
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speechbrain_ptssnn.dataio import label_encoder_for  # noqa: E402
from speechbrain_ptssnn.inference import EmotionRecognizer  # noqa: E402
from speechbrain_ptssnn.lobes import PTSSNN  # noqa: E402
from speechbrain_ptssnn.upstreams import (  # noqa: E402
    Emotion2vec,
    emotion2vec_model_conf,
    save_random_emotion2vec,
)


def utterance(seconds, rate=16000, seed=0):
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    voice = np.sin(2 * np.pi * 150 * t * (1 + 0.2 * np.sin(2 * np.pi * 0.5 * t)))
    return (0.3 * voice + 0.03 * rng.standard_normal(t.shape[0])).astype("float32")


def random_model(workdir, size):
    conf = emotion2vec_model_conf() if size == "base" else emotion2vec_model_conf(
        embed_dim=64, depth=2, num_heads=4, prenet_depth=1, conv_channels=32,
        decoder_dim=32, decoder_layers=1)
    model_dir = os.path.join(workdir, f"emotion2vec_{size}_random")
    if not os.path.isfile(os.path.join(model_dir, "model.pt")):
        save_random_emotion2vec(model_dir, conf)
    upstream = Emotion2vec(model_dir)
    torch.manual_seed(0)
    adapter = PTSSNN(input_size=upstream.output_size, n_classes=4)
    hparams = {"label_encoder": label_encoder_for(["angry", "happy", "neutral", "sad"]),
               "storage_dtype": "float16"}
    return EmotionRecognizer({"upstream": upstream, "adapter": adapter}, hparams,
                             run_opts={"device": "cpu"})


def median_ms(values):
    return round(1000 * statistics.median(values), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="utterance length")
    parser.add_argument("--runs", type=int, default=7, help="timed runs (median reported)")
    parser.add_argument("--size", choices=["base", "tiny"], default="base",
                        help="random emotion2vec architecture (without --source)")
    parser.add_argument("--source", default=None, help="an exported model folder to time instead")
    parser.add_argument("--workdir", default=None, help="scratch folder (a temp dir by default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="ptssnn_latency_")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.source:
        model = EmotionRecognizer.from_hparams(source=args.source, run_opts={"device": "cpu"})
        what = f"exported model {args.source}"
    else:
        model = random_model(workdir, args.size)
        what = f"random emotion2vec {args.size} + default PTS-SNN adapter (random weights)"
    load_s = time.perf_counter() - start
    torch.set_num_threads(args.threads)  # FunASR's loader may change it
    path = os.path.join(workdir, "utterance.wav")
    soundfile.write(path, utterance(args.seconds), 16000, subtype="PCM_16")

    wav = model.load_audio(path)
    upstream_s, adapter_s, total_s = [], [], []
    for run in range(args.runs + 1):  # the first one warms up
        with torch.no_grad():
            t0 = time.perf_counter()
            feats = model.compute_features(wav)
            t1 = time.perf_counter()
            logits = model.mods.adapter(feats.unsqueeze(0), torch.ones(1))
            t2 = time.perf_counter()
        model.classify_file(path)
        t3 = time.perf_counter()
        if run:
            upstream_s.append(t1 - t0)
            adapter_s.append(t2 - t1)
            total_s.append(t3 - t2)
    figures = {
        "model": what,
        "adapter_parameters": sum(p.numel() for p in model.mods.adapter.parameters()),
        "threads": torch.get_num_threads(),
        "utterance_s": args.seconds,
        "frames": int(feats.shape[0]),
        "runs": args.runs,
        "load_s": round(load_s, 2),
        "upstream_ms": median_ms(upstream_s),
        "adapter_ms": median_ms(adapter_s),
        "classify_file_ms": median_ms(total_s),
        "real_time_factor": round(statistics.median(total_s) / args.seconds, 4),
        "logits_shape": list(logits.shape),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")


if __name__ == "__main__":
    main()
