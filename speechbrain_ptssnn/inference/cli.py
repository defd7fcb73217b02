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
        "Probabilities are softmax(logits / T), with the temperature T the export fitted on "
        "the fold's validation part (1 for models exported before calibration). Loading a "
        "model runs the code its hyperparams.yaml names: only use sources you trust.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="audio files (any rate, mono or stereo)")
    parser.add_argument("--source", required=True, help="hub id (user/repo) or local model folder")
    parser.add_argument("--savedir", default=None, help="where to collect the model files "
                        "(default: used in place / the hub cache)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--max_chunk_seconds", type=float, default=None,
                        help="longest audio the upstream sees at once (default: the model's, 30 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (torch and onnxruntime)")
    parser.add_argument("--backend", choices=["torch", "onnx"], default=None,
                        help="what runs the adapter: PyTorch, or onnxruntime on adapter.onnx "
                        "(default: the export's choice)")
    parser.add_argument("--segment", type=float, default=None, metavar="S",
                        help="classify S-second segments (emotion over time); the file is "
                        "streamed, never loaded whole")
    parser.add_argument("--hop", type=float, default=None, metavar="H",
                        help="seconds between segment starts (default: S)")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="with --segment: plot the probabilities over time into this image")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    return parser


def _format_result(result):
    probs = "  ".join(f"{lab}={p:.4f}" for lab, p in result["probabilities"].items())
    line = f"{result['file']}\t{result['label']}\t{probs}"
    if "segments" not in result:
        return line
    labels = list(result["probabilities"])
    width = max(7, *(len(lab) for lab in labels))
    header = f"{'start':>8} {'end':>8}  {'label':<{width}}" + "".join(
        f" {lab:>{width}}" for lab in labels)
    rows = [f"{s['start']:8.2f} {s['end']:8.2f}  {s['label']:<{width}}"
            + "".join(f" {s['probabilities'][lab]:>{width}.3f}" for lab in labels)
            for s in result["segments"]]
    return "\n".join([line, header, *rows])


def main(argv=None):
    """The ``ptssnn-classify`` console script.

    ``ptssnn-classify --source SRC FILE [FILE ...] [--json]`` prints, per
    file, the label and the calibrated class probabilities (tab-separated),
    or with ``--json`` one JSON document ``{"source", "labels", "results":
    [...]}`` whose results are :meth:`EmotionRecognizer.predict_file`
    dictionaries, in input order (``{"file", "error"}`` for a file that
    failed). With ``--segment S [--hop H]`` each file is streamed in segments:
    a table of segments (start, end, label, probabilities) follows its line,
    and in JSON each result gains ``"segments": [{"start", "end", "label",
    "probabilities"}]`` (seconds), its own label being that of the mean
    probabilities; ``--plot FILE.png`` draws the probabilities over time.
    ``--backend onnx`` runs the adapter through onnxruntime. A tqdm progress
    bar goes to stderr when there are several files. Files that fail are
    reported and skipped.

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

    parser = _parser()
    args = parser.parse_args(argv)
    if args.plot and args.segment is None:
        parser.error("--plot needs --segment")
    if args.hop is not None and args.segment is None:
        parser.error("--hop needs --segment")
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
                run_opts={"device": args.device}, backend=args.backend,
            )
        except (OSError, ValueError) as error:
            print(f"ptssnn-classify: error: --source: {error}", file=sys.stderr)
            return 2
        bar = tqdm(args.files, desc="Classifying", unit="file", file=sys.stderr,
                   disable=args.no_progress or len(args.files) < 2, dynamic_ncols=True)
        for path in bar:
            try:
                result = model.predict_file(path, segment_seconds=args.segment,
                                            hop_seconds=args.hop)
            except (OSError, ValueError, RuntimeError) as error:
                failed += 1
                result = {"file": path, "error": str(error)}
                if not args.json:
                    bar.write(f"error: {error}", file=sys.stderr)
            else:
                if not args.json:
                    bar.write(_format_result(result), file=stdout)
            results.append(result)
    if args.plot:
        from speechbrain_ptssnn.inference.segments import plot_segments

        timelines = [(r["file"], r["segments"]) for r in results if "segments" in r]
        if timelines:
            plot_segments(timelines, args.plot)
    if args.json:
        document = {"source": str(args.source), "labels": model.labels, "results": results}
        json.dump(document, stdout, indent=2)
        stdout.write("\n")
    stdout.flush()
    return 1 if failed else 0
