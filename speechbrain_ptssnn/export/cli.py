"""``python -m speechbrain_ptssnn.export RUN_FOLDER OUT_FOLDER [--fold K | --best] ...``."""

import argparse
import sys

from speechbrain_ptssnn.export.hub_files import FILES
from speechbrain_ptssnn.export.model_card import pct
from speechbrain_ptssnn.export.run_export import export_run


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_ptssnn.export",
        description="Export a finished PTS-SNN training run (one fold) into a hub-ready "
        "model folder for speechbrain_ptssnn.inference.EmotionRecognizer.",
    )
    parser.add_argument("run_folder", help="the recipe's output folder")
    parser.add_argument("out_folder", help="where to write the model folder")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--fold", type=int, default=None, help="export fold K")
    which.add_argument("--best", action="store_true",
                       help="export the finished fold with the best test UA (the default)")
    parser.add_argument("--repo_id", default=None,
                        help="hub id the folder will be uploaded to (written as pretrained_path)")
    parser.add_argument("--upstream", default=None, choices=["emotion2vec", "fbank"],
                        help="the run's upstream kind; for a run on precomputed features, the "
                        "kind of model that computed them (emotion2vec, with --upstream_source); "
                        "another kind than the run's is refused")
    parser.add_argument("--upstream_source", default=None,
                        help="replace the run's upstream_source (e.g. the hub id of a local copy); "
                        "for precomputed features, the model that computed them (recorded in "
                        "the model card)")
    parser.add_argument("--max_chunk_seconds", type=float, default=30.0,
                        help="longest audio the upstream sees at once (default 30; 0: no limit)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    parser.add_argument("--onnx", action="store_true",
                        help="also write adapter.onnx (checked with onnxruntime) and make it the "
                        "model's adapter backend: inference then needs neither SpikingJelly nor "
                        "Numba")
    parser.add_argument("--nir", action="store_true",
                        help="also write adapter.nir (the spiking part as a NIR graph, checked by "
                        "a round trip) and adapter_nir.json (the host/chip split)")
    return parser


def main(argv=None):
    """``python -m speechbrain_ptssnn.export RUN_FOLDER OUT_FOLDER [--fold K | --best]``.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` if None).

    Returns
    -------
    int
        Exit status (0; 1 with a message on stderr for a bad run or option).

    Example
    -------
    >>> main(["results/emodb/ptssnn/1986", "exported", "--best"])  # doctest: +SKIP
    0
    """
    args = _parser().parse_args(argv)
    try:
        info = export_run(
            args.run_folder, args.out_folder, fold=args.fold, repo_id=args.repo_id,
            upstream=args.upstream, upstream_source=args.upstream_source,
            max_chunk_seconds=args.max_chunk_seconds or None, force=args.force,
            onnx=args.onnx, nir=args.nir,
        )
    except (OSError, ValueError, NotImplementedError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    how = "--fold" if args.fold is not None else "best test UA"
    print(f"exported fold {info['fold']} ({how}; test UA {pct(info['metrics']['UA'])} %) of "
          f"{info['run_folder']} to {info['out_folder']}: " + ", ".join(info.get("files", FILES)))
    print(f"temperature {info['temperature']:.4g}"
          + ("" if info.get("calibration") else " (the fold has no calibration.json)"))
    if "onnx" in info:
        print(f"adapter.onnx: largest logit difference to PyTorch "
              f"{info['onnx']['max_logit_difference']:.3g} on the example batch")
    if "nir" in info:
        trip = info["nir"]["round_trip"]
        print(f"adapter.nir: chip{' (the whole adapter)' if info['nir']['whole'] else ''}: "
              f"{'; '.join(info['nir']['chip'])} | host: {'; '.join(info['nir']['host'])}; "
              f"round trip on a generated utterance: {trip['flipped_spikes']} of "
              f"{trip['spikes']} spikes differ")
    for warning in info["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
