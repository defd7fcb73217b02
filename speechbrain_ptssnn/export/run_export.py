"""Exporting one fold of a finished run: the fold, its checkpoint, the files written.

The run is read through :mod:`speechbrain_ptssnn.runs` (its layout's one
home); every file of the model folder is written atomically
(:mod:`speechbrain_ptssnn.atomic`).
"""

import json
import os
import shutil

import torch

from speechbrain_ptssnn.atomic import atomic_path, write_text
from speechbrain_ptssnn.export.hub_files import (
    CARD,
    HYPERPARAMS,
    INTERFACE,
    INTERFACE_TEMPLATE,
    LABELS,
    NIR_FILE,
    NIR_SPLIT,
    ONNX_FILE,
    WEIGHTS,
    template_text,
)
from speechbrain_ptssnn.export.hub_hparams import (
    adapter_node,
    choose_upstream,
    fingerprint_entries,
    hub_hparams,
    settings_entries,
    torch_neurons,
)
from speechbrain_ptssnn.export.hub_yaml import dump_yaml, read_tagged_yaml, tag_of
from speechbrain_ptssnn.export.model_card import model_card
from speechbrain_ptssnn.runs import (
    CALIBRATION_FILE,
    HPARAMS_FILE,
    LABEL_ENCODER,
    METRICS_FILE,
    OPTIONS_FILE,
    SUMMARY_JSON,
    checkpoint_under_test,
    fold_folder,
    fold_folders,
    fold_number,
    read_fold_metrics,
    read_json,
)


def choose_fold(run_folder, fold=None):
    """The fold to export: ``fold``, or the finished one with the best test UA.

    Arguments
    ---------
    run_folder : str
        A recipe's output folder.
    fold : int, optional
        A fold number; None picks the best by test UA (ties: lowest number).

    Returns
    -------
    int
        The fold number.

    Raises
    ------
    ValueError
        If no fold is finished, or ``fold`` does not exist or is unfinished.

    Example
    -------
    >>> import json, os, tempfile
    >>> run = tempfile.mkdtemp()
    >>> for k, ua in [(1, 40.0), (2, 55.0), (3, 55.0)]:
    ...     os.makedirs(os.path.join(run, f"fold_{k}"))
    ...     with open(os.path.join(run, f"fold_{k}", "metrics.json"), "w") as f:
    ...         json.dump({"UA": ua}, f)
    >>> choose_fold(run), choose_fold(run, fold=1)
    (2, 1)
    """
    folds = read_fold_metrics(run_folder)
    existing = [fold_number(f) for f in fold_folders(run_folder)]
    if fold is not None:
        if fold not in existing:
            raise ValueError(f"--fold {fold}: {run_folder} has no fold_{fold} (folds: "
                             f"{existing or 'none'})")
        if fold not in folds:
            raise ValueError(f"--fold {fold} is not finished: {run_folder}/fold_{fold} has no "
                             f"{METRICS_FILE} (finish or test it first)")
        return fold
    if not folds:
        raise ValueError(f"{run_folder} has no finished fold (no fold_<k>/{METRICS_FILE}): "
                         "is it a training run's output folder?")
    return max(sorted(folds), key=lambda k: float(folds[k]["UA"]))


def export_run(
    run_folder,
    out_folder,
    fold=None,
    repo_id=None,
    upstream=None,
    upstream_source=None,
    max_chunk_seconds=30.0,
    force=False,
    onnx=False,
    nir=False,
):
    """Exports one fold of a finished run into a hub-ready model folder.

    Arguments
    ---------
    run_folder : str or os.PathLike
        The recipe's ``output_folder``.
    out_folder : str or os.PathLike
        Where to write (created; must be empty unless ``force``).
    fold : int, optional
        The fold to export; None: the finished fold with the best test UA.
    repo_id : str, optional
        The hub id the folder will be uploaded to (``pretrained_path``;
        default: the absolute output folder).
    upstream : str, optional
        Replace the run's upstream name (needed for ``precomputed`` runs).
    upstream_source : str, optional
        Replace the run's ``upstream_source`` (e.g. the hub id of a local
        emotion2vec copy used for training).
    max_chunk_seconds : float or None
        Longest audio the upstream sees at once at inference (None: no limit).
    force : bool
        Overwrite the model files in a non-empty ``out_folder``.
    onnx : bool
        Also write ``adapter.onnx`` (:mod:`~speechbrain_ptssnn.export.onnx_export`),
        checked against PyTorch with onnxruntime, and make it the model's
        ``adapter_backend`` (its PLIF layers on the plain-PyTorch backend, so
        loading needs neither SpikingJelly nor Numba).
    nir : bool
        Also write ``adapter.nir`` and ``adapter_nir.json``, the spiking part as
        a NIR graph and the host/chip split (:mod:`~speechbrain_ptssnn.export.nir_export`).

    Returns
    -------
    dict
        What was exported: ``fold``, ``checkpoint``, ``labels``,
        ``upstream_source``, ``metrics``, ``temperature``, ``out_folder``,
        ``warnings``, ``files``, and with ``onnx``/``nir`` their checks
        (``onnx``: ``max_logit_difference`` on the example; ``nir``: the split
        and the round trip on a generated utterance), ...

    Raises
    ------
    FileNotFoundError
        If ``run_folder`` is not a training run.
    ValueError
        For an unfinished or unknown fold, an upstream that cannot be
        exported, a non-empty ``out_folder``, or weights that do not fit the
        adapter.

    Example
    -------
    >>> export_run("results/emodb/ptssnn/1986", "exported/ptssnn-emodb")  # doctest: +SKIP
    """
    run_folder = os.path.abspath(os.fspath(run_folder))
    out_folder = os.path.abspath(os.fspath(out_folder))
    run = read_run(run_folder)
    chosen = choose_fold(run_folder, fold)
    trained = read_fold(run_folder, chosen, str(run["hparams"].get("best_metric", "UA")))
    adapter, input_size = adapter_node(run["hparams"], run["hparams_path"])
    choice = choose_upstream(run["hparams"], upstream, upstream_source)
    info = _export_info(run, chosen, fold is None, trained, choice, repo_id, out_folder,
                        max_chunk_seconds)
    document, module = _hub_document(run, trained, choice, info, adapter, input_size, onnx,
                                     repo_id or out_folder)
    _check_out_folder(out_folder, force)
    extra = _deployment_files(module, onnx, nir, info)
    _write_folder(out_folder, force, trained, document, info, extra)
    return info


def _hub_document(run, trained, choice, info, adapter, input_size, onnx, pretrained_path):
    """The hub hparams document and the adapter module checked against the fold's weights.

    With ``onnx`` the adapter's PLIF layers move to the plain-PyTorch backend
    and ``info["adapter_backend"]`` is set to ``"onnx"``.
    """
    hparams = run["hparams"]
    if onnx:
        info["adapter_backend"] = "onnx"
        adapter = torch_neurons(adapter)
    settings = settings_entries(info, input_size, len(trained["labels"]),
                                hparams.get("sample_rate", 16000), pretrained_path)
    fingerprint = fingerprint_entries(choice["fingerprint"])
    document = hub_hparams(info, settings, fingerprint, choice["entries"], adapter)
    module = _check_weights({**settings, **fingerprint, "adapter": adapter}, trained,
                            run["hparams_path"])
    return document, module


def _deployment_files(adapter, onnx, nir, info):
    """Writes adapter.onnx / adapter.nir into a temporary folder; returns name -> temporary path.

    Fills ``info["onnx"]`` and ``info["nir"]`` with their checks, before the
    model card is written from ``info``.
    """
    import tempfile

    files = {}
    if not (onnx or nir):
        return files
    folder = tempfile.mkdtemp(prefix="ptssnn-export-")
    adapter = adapter.eval()
    if onnx:
        from speechbrain_ptssnn.export.onnx_export import (
            example_inputs,
            export_onnx,
            onnx_max_difference,
        )

        path = export_onnx(adapter, os.path.join(folder, ONNX_FILE))
        feats, lengths = example_inputs(adapter.input_size, batch=3, frames=97)
        info["onnx"] = {"file": ONNX_FILE, "inputs": ["feats", "lengths"], "output": "logits",
                        "max_logit_difference": onnx_max_difference(adapter, path, feats, lengths)}
        files[ONNX_FILE] = path
    if nir:
        from speechbrain_ptssnn.export.nir_export import check_round_trip, write_nir

        graph_path = os.path.join(folder, NIR_FILE)
        split = write_nir(adapter, graph_path)
        split["round_trip"] = check_round_trip(adapter, graph_path)
        split_path = os.path.join(folder, NIR_SPLIT)
        write_text(split_path, json.dumps(split, indent=2) + "\n")
        info["nir"] = split
        files.update({NIR_FILE: graph_path, NIR_SPLIT: split_path})
    return files


def read_run(run_folder):
    """A run's hparams (tagged nodes kept), summary and data-preparation options.

    The plain hparams are taken from ``summary.json`` where it has them: they
    are the values training loaded (``n_classes`` set from the labels).

    Raises
    ------
    FileNotFoundError
        If the folder has no ``hyperparams.yaml``.
    """
    hparams_path = os.path.join(run_folder, HPARAMS_FILE)
    if not os.path.isfile(hparams_path):
        raise FileNotFoundError(f"{run_folder} is not a training run's output folder (no "
                                f"{HPARAMS_FILE})")
    with open(hparams_path, encoding="utf-8") as stream:
        hparams = read_tagged_yaml(stream.read())
    summary = read_json(os.path.join(run_folder, SUMMARY_JSON))
    options = (read_json(os.path.join(run_folder, OPTIONS_FILE)) or {}).get("options", {})
    if summary:
        plain = summary.get("configuration", {}).get("hparams", {})
        hparams.update({k: v for k, v in plain.items() if not tag_of(hparams.get(k))})
    return {"folder": run_folder, "hparams": hparams, "hparams_path": hparams_path,
            "summary": summary, "options": options}


def read_fold(run_folder, fold, best_metric):
    """A finished fold's test metrics, labels and the checkpoint its test used.

    Returns
    -------
    dict
        ``metrics``, ``labels``, ``checkpoint`` (a SpeechBrain ``Checkpoint``),
        ``weights`` (its adapter file) and ``state`` (the weights, on the CPU).

    Raises
    ------
    FileNotFoundError
        If the label encoder or a checkpoint is missing.
    ValueError
        If the label encoder disagrees with the metrics' labels.
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    folder = fold_folder(run_folder, fold)
    metrics = read_json(os.path.join(folder, METRICS_FILE))
    encoder_path = os.path.join(folder, LABEL_ENCODER)
    if not os.path.isfile(encoder_path):
        raise FileNotFoundError(f"{encoder_path} is missing")
    encoder = CategoricalEncoder()
    encoder.load(encoder_path)
    encoder.expect_len(len(encoder))
    labels = list(encoder.decode_ndim(range(len(encoder))))
    if metrics.get("labels") and list(metrics["labels"]) != labels:
        raise ValueError(f"{encoder_path} ({labels}) disagrees with {METRICS_FILE}'s labels "
                         f"{metrics['labels']}")
    checkpoint = checkpoint_under_test(folder, best_metric)
    weights = checkpoint.paramfiles["adapter"]
    calibration = read_json(os.path.join(folder, CALIBRATION_FILE))
    return {"metrics": metrics, "labels": labels, "checkpoint": checkpoint,
            "best_metric": best_metric, "weights": weights, "state": _plain_state_dict(weights),
            "calibration": calibration}


def _plain_state_dict(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path} is not a state dict of tensors")
    return {key: value.detach().cpu().clone().contiguous() for key, value in state.items()}


def _export_info(run, fold, best, trained, choice, repo_id, out_folder, max_chunk_seconds):
    """What the export returns and the model card is written from."""
    hparams, options = run["hparams"], run["options"]
    name = choice["name"]
    return {
        "run_folder": run["folder"],
        "fold": fold,
        "selection": "best" if best else "fold",
        "checkpoint": str(trained["checkpoint"].path),
        "checkpoint_meta": dict(trained["checkpoint"].meta),
        "best_metric": trained["best_metric"],
        "labels": trained["labels"],
        "corpus": str(hparams.get("corpus") or options.get("corpus") or "unknown"),
        "upstream": name if isinstance(name, str) else tag_of(name).lstrip("!"),
        "upstream_source": choice["source"],
        "upstream_description": choice["description"],
        "storage_dtype": str(hparams.get("storage_dtype", "float16")),
        "metrics": trained["metrics"],
        "summary": run["summary"],
        "options": options,
        "repo_id": repo_id,
        "out_folder": out_folder,
        "max_chunk_seconds": max_chunk_seconds,
        "warnings": choice["warnings"],
        "parameters": sum(v.numel() for v in trained["state"].values()),
        "calibration": trained.get("calibration"),
        "temperature": float((trained.get("calibration") or {}).get("temperature", 1.0)),
        "adapter_backend": "torch",
    }


def _check_weights(entries, trained, hparams_path):
    """Builds the adapter from the exported entries and loads the weights strictly."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_ptssnn.inference import check_adapter_state

    adapter = load_hyperpyyaml(dump_yaml(entries))["adapter"]
    try:
        check_adapter_state(adapter, trained["state"], trained["weights"])
    except ValueError as error:
        raise ValueError(f"the checkpoint does not fit the adapter of {hparams_path}: "
                         f"{error}") from error
    return adapter


def _check_out_folder(out_folder, force):
    if os.path.isdir(out_folder) and os.listdir(out_folder) and not force:
        raise ValueError(f"{out_folder} is not empty: choose another folder or pass --force")


def _write_folder(out_folder, force, trained, document, info, extra=None):
    """Writes the model folder's files, each atomically (``extra``: name -> a file to move in)."""
    from speechbrain_ptssnn.dataio import label_encoder_for

    _check_out_folder(out_folder, force)
    texts = {
        HYPERPARAMS: dump_yaml(document),
        INTERFACE: template_text(INTERFACE_TEMPLATE),
        CARD: model_card(info),
    }
    os.makedirs(out_folder, exist_ok=True)
    with atomic_path(os.path.join(out_folder, WEIGHTS)) as tmp:
        torch.save(trained["state"], tmp)
    with atomic_path(os.path.join(out_folder, LABELS)) as tmp:
        label_encoder_for(trained["labels"]).save(tmp)
    for name, text in texts.items():
        write_text(os.path.join(out_folder, name), text)
    for name, path in (extra or {}).items():
        with atomic_path(os.path.join(out_folder, name)) as tmp:
            shutil.copyfile(path, tmp)
        os.remove(path)
    info["files"] = sorted(os.listdir(out_folder))
