"""The ``ptssnn-classify`` console script: classify audio files with an exported model."""

import argparse
import contextlib
import json
import sys

import torch

from speechbrain_ptssnn.inference.recognizer import EmotionRecognizer


def _parser():
    parser = argparse.ArgumentParser(
        prog="ptssnn-classify",
        description="Classify the emotion of audio files with an exported PTS-SNN model "
        "(a hub id or a local folder written by `python -m speechbrain_ptssnn.export`). "
        "Probabilities are the softmax of the adapter's firing rates, hence close to "
        "uniform: the label (arg max) is what counts. Loading a model runs the code its "
        "hyperparams.yaml names: only use sources you trust.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="audio files (any rate, mono or stereo)")
    parser.add_argument("--source", required=True, help="hub id (user/repo) or local model folder")
    parser.add_argument("--savedir", default=None, help="where to collect the model files "
                        "(default: used in place / the hub cache)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--max_chunk_seconds", type=float, default=None,
                        help="longest audio the upstream sees at once (default: the model's, 30 s)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    return parser


def _format_result(result):
    probs = "  ".join(f"{lab}={p:.4f}" for lab, p in result["probabilities"].items())
    return f"{result['file']}\t{result['label']}\t{probs}"


def main(argv=None):
    """The ``ptssnn-classify`` console script.

    ``ptssnn-classify --source SRC FILE [FILE ...] [--json]`` prints, per
    file, the label and the class probabilities (tab-separated), or with
    ``--json`` one JSON document ``{"source", "labels", "results": [...]}``
    whose results are :meth:`EmotionRecognizer.predict_file` dictionaries
    (``{"file", "error"}`` for a file that failed). A tqdm progress bar goes
    to stderr when there are several files. Files that fail are reported and
    skipped.

    Arguments
    ---------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` if None).

    Returns
    -------
    int
        Exit status: 0; 1 if any file failed; 2 if the model does not load
        (e.g. ``--source`` names no folder).

    Example
    -------
    >>> main(["--source", "user/ptssnn-emodb", "--json", "angry.wav"])  # doctest: +SKIP
    0
    """
    from tqdm import tqdm

    args = _parser().parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    stdout = sys.stdout
    overrides = {}
    if args.max_chunk_seconds is not None:
        overrides["max_chunk_seconds"] = args.max_chunk_seconds
    results, failed = [], 0
    # Anything libraries print while loading or running goes to stderr, so
    # that stdout holds only the results (valid JSON with --json).
    with contextlib.redirect_stdout(sys.stderr):
        try:
            model = EmotionRecognizer.from_hparams(
                source=args.source, savedir=args.savedir, overrides=overrides,
                run_opts={"device": args.device},
            )
        except (OSError, ValueError) as error:
            print(f"ptssnn-classify: error: --source: {error}", file=sys.stderr)
            return 2
        bar = tqdm(args.files, desc="Classifying", unit="file", file=sys.stderr,
                   disable=args.no_progress or len(args.files) < 2, dynamic_ncols=True)
        for path in bar:
            try:
                result = model.predict_file(path)
            except (OSError, ValueError, RuntimeError) as error:
                failed += 1
                result = {"file": path, "error": str(error)}
                if not args.json:
                    bar.write(f"error: {error}", file=sys.stderr)
            else:
                if not args.json:
                    bar.write(_format_result(result), file=stdout)
            results.append(result)
    if args.json:
        document = {"source": str(args.source), "labels": model.labels, "results": results}
        json.dump(document, stdout, indent=2)
        stdout.write("\n")
    stdout.flush()
    return 1 if failed else 0
