#!/usr/bin/env python3
"""How fast is the frozen upstream, and how fast is the feature cache?

Measures, offline, on a random-weight emotion2vec of the base architecture
(768 dims, 8 + 4 blocks, ~94 M parameters; random weights cost the same as real
ones):

* backbone CPU seconds per second of audio (``time.process_time`` over
  ``Emotion2vec.forward``, at ``--threads`` intra-op threads);
* feature cache read time per utterance (``FeatureCache.load`` of float16
  entries, warm page cache), and the entry size.

Not a test. Usage::

    python benchmarks/upstream_speed.py --threads 1
    python benchmarks/upstream_speed.py --threads 2 --seconds 3 --utterances 40
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import soundfile
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from speechbrain_ptssnn.features.cache import FeatureCache  # noqa: E402
from speechbrain_ptssnn.upstreams import (  # noqa: E402
    Emotion2vec,
    emotion2vec_model_conf,
    save_random_emotion2vec,
)


def signal(seconds, seed):
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * (150 + 80 * seed % 300) * t) + 0.05 * rng.standard_normal(n)
    return x.astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each test utterance")
    parser.add_argument("--repeats", type=int, default=5,
                        help="utterances timed through the backbone")
    parser.add_argument("--utterances", type=int, default=20, help="utterances in the cache test")
    parser.add_argument("--cache_seconds", type=float, default=3.0,
                        help="length of cached utterances")
    parser.add_argument("--size", choices=["base", "tiny"], default="base")
    parser.add_argument("--workdir", default=None, help="scratch folder (a temp dir by default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    workdir = args.workdir or tempfile.mkdtemp(prefix="ptssnn_bench_")
    conf = emotion2vec_model_conf() if args.size == "base" else emotion2vec_model_conf(
        embed_dim=64, depth=2, num_heads=4, prenet_depth=1, conv_channels=32,
        decoder_dim=32, decoder_layers=1)
    model_dir = os.path.join(workdir, f"emotion2vec_{args.size}_random")
    if not os.path.isfile(os.path.join(model_dir, "model.pt")):
        save_random_emotion2vec(model_dir, conf)
    start = time.perf_counter()
    upstream = Emotion2vec(model_dir)
    load_s = time.perf_counter() - start
    n_params = sum(
        p.numel() for n, p in upstream.backbone.named_parameters() if ".decoder." not in n
    )
    torch.set_num_threads(args.threads)

    # Backbone speed.
    wav = torch.from_numpy(signal(args.seconds, 0)).unsqueeze(0)
    upstream(wav)  # warm-up
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.repeats):
        feats, _ = upstream(torch.from_numpy(signal(args.seconds, i + 1)).unsqueeze(0))
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    audio_s = args.repeats * args.seconds

    # Cache: fill once, then time the reads.
    audio_dir = os.path.join(workdir, "audio")
    os.makedirs(audio_dir, exist_ok=True)
    paths = []
    for i in range(args.utterances):
        path = os.path.join(audio_dir, f"utt{i:03d}.wav")
        soundfile.write(path, signal(args.cache_seconds, 100 + i), 16000, subtype="PCM_16")
        paths.append(path)
    cache = FeatureCache(upstream, os.path.join(workdir, "cache"), progress=False)
    fill_start = time.perf_counter()
    counts = cache.fill(paths)
    fill_s = time.perf_counter() - fill_start
    for path in paths:  # warm the page cache
        cache.load(path)
    rounds = 5
    read_start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            cache.load(path)
    read_ms = 1000 * (time.perf_counter() - read_start) / (rounds * len(paths))
    entry_kb = np.mean([os.path.getsize(cache.entry_path(p)) for p in paths]) / 1024

    figures = {
        "model": f"emotion2vec {args.size} architecture, random weights",
        "parameters_M": round(n_params / 1e6, 2),
        "threads": args.threads,
        "load_s": round(load_s, 2),
        "frames_per_utterance": int(feats.shape[1]),
        "utterance_s": args.seconds,
        "backbone_cpu_s_per_audio_s": round(cpu / audio_s, 4),
        "backbone_wall_s_per_audio_s": round(wall / audio_s, 4),
        "cache_fill_s": round(fill_s, 2),
        "cache_fill_counts": counts,
        "cache_entry_kB": round(float(entry_kb), 1),
        "cache_utterance_s": args.cache_seconds,
        "cache_read_ms_per_utterance": round(read_ms, 3),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:30s} {value}")


if __name__ == "__main__":
    main()
