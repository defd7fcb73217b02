"""The model card (``README.md``) of an exported model.

The card's text is ``templates/model_card.md`` (package data), a
``string.Template`` whose ``${...}`` fields the section builders below fill
in from what :func:`~speechbrain_ptssnn.export.run_export.export_run`
gathered; the parts that depend on the run (the table of all folds, how the
fold was chosen, the overrides, the warnings) are built here whole.
"""

import os
import string

from speechbrain_ptssnn.export.hub_files import MODEL_CARD_TEMPLATE, template_text
from speechbrain_ptssnn.export.hub_hparams import is_local
from speechbrain_ptssnn.runs import checkpoint_choice
from speechbrain_ptssnn.upstreams.leakage import leakage_sentence, upstream_leakage

#: corpus -> (its name and reference, what we know of its licence)
CORPORA = {
    "emodb": (
        "EMO-DB, the Berlin Database of Emotional Speech (Burkhardt et al., 2005)",
        "distributed free of charge by its authors for research; we found no formal licence "
        "text. Check the terms of the copy you obtained before any other use.",
    ),
    "urdu": (
        "URDU (Latif et al., 2018)",
        "published by its authors for research use only, as far as we know; check the terms "
        "of its repository (github.com/siddiquelatif/URDU-Dataset).",
    ),
    "iemocap": (
        "IEMOCAP (Busso et al., 2008; USC SAIL)",
        "obtained under USC SAIL's licence agreement (release form), which restricts use and "
        "redistribution; check that it allows sharing models trained on it and covers your "
        "use (commercial use needs USC's permission).",
    ),
    "casia": (
        "CASIA Chinese emotional speech corpus (Institute of Automation, Chinese Academy of "
        "Sciences)",
        "licence terms unknown to us: the full corpus is distributed by its owners; the "
        "freely circulating subset carries no clear licence. Check before any use beyond "
        "research.",
    ),
    "emovo": (
        "EMOVO (Costantini et al., 2014; Fondazione Ugo Bordoni)",
        "made available by its authors for research, as far as we know; no licence text "
        "came with the data. Check before any other use.",
    ),
}

#: overrides the card leaves out (paths of the machine that trained)
_PATH_OVERRIDES = ("data_folder", "output_folder", "feature_cache_folder", "features_folder")


def model_card(info):
    """The ``README.md`` model card of an export.

    Arguments
    ---------
    info : dict
        What :func:`~speechbrain_ptssnn.export.run_export.export_run`
        gathered (fold, metrics, summary, labels, upstream, licences, ...).

    Returns
    -------
    str
        Markdown with Hugging Face front matter.
    """
    fields = {}
    for section in (_model_fields, _results_fields, _usage_fields, _licence_fields,
                    _training_fields, _deployment_fields):
        fields.update(section(info))
    return string.Template(template_text(MODEL_CARD_TEMPLATE)).substitute(fields)


def pct(value):
    """A percentage as the card writes it.

    Example
    -------
    >>> pct(55.5555)
    '55.56'
    """
    return f"{float(value):.2f}"


def _corpus(info):
    return CORPORA.get(info["corpus"], (info["corpus"], "unknown to us: check them."))


def _protocol(info):
    options = info["options"]
    return options.get("protocol") or "the corpus default", options.get("n_folds") or "?"


def _model_fields(info):
    """The title and the summary list."""
    return {
        "corpus": info["corpus"],
        "fold": info["fold"],
        "n_labels": len(info["labels"]),
        "labels": ", ".join(info["labels"]),
        "upstream_description": info["upstream_description"],
        "storage_dtype": info["storage_dtype"],
        "parameters": f"{info['parameters']:,}",
        "corpus_name": _corpus(info)[0],
        "max_chunk_seconds": info["max_chunk_seconds"],
    }


def _results_fields(info):
    """Results: the exported fold's test metrics, every fold's, how the fold was chosen."""
    metrics = info["metrics"]
    protocol, n_folds = _protocol(info)
    recall = metrics.get("recall") or {}
    return {
        "n_folds": n_folds,
        "protocol": protocol,
        "test_count": metrics.get("count", "?"),
        "checkpoint_choice": checkpoint_choice(info["checkpoint_meta"], info["best_metric"]),
        "wa": pct(metrics["WA"]),
        "ua": pct(metrics["UA"]),
        "f1": pct(metrics["F1"]),
        "recall": ", ".join(f"{label} {pct(value)}" for label, value in recall.items()),
        "all_folds": _all_folds(info["summary"]),
        "selection": _selection(info),
        "leakage": _leakage(info),
    }


def leakage_of(info):
    """The leakage warning of an export: the run's own, or that of the exported upstream.

    Example
    -------
    >>> leakage_of({"upstream": "emotion2vec", "upstream_source": "iic/emotion2vec_plus_base",
    ...             "corpus": "emodb", "summary": None})["corpora"]
    ['emodb']
    >>> leakage_of({"upstream": "emotion2vec", "upstream_source": "iic/emotion2vec_base",
    ...             "corpus": "emodb", "summary": {}}) is None
    True
    """
    recorded = (info.get("summary") or {}).get("leakage")
    return recorded or upstream_leakage(info["upstream"], info["upstream_source"],
                                        [info["corpus"]])


def _leakage(info):
    leakage = leakage_of(info)
    if not leakage:
        return ""
    return (f"\n\n**Warning: {leakage['warning']}.** {leakage_sentence(leakage)}, so these "
            "test figures may be optimistic.")


def _all_folds(summary):
    """The table of every fold of the run and their mean, or nothing."""
    if not summary or not summary.get("folds"):
        return ""
    lines = ["All folds of the run:", "",
             "| fold | WA (%) | UA (%) | F1 (%) | test utterances |",
             "|---:|---:|---:|---:|---:|"]
    for k in sorted(summary["folds"], key=int):
        f = summary["folds"][k]
        lines.append(f"| {k} | {pct(f['WA'])} | {pct(f['UA'])} | {pct(f['F1'])} | {f['count']} |")
    mean, std = summary["mean"], summary["std"]
    lines.append(
        f"| mean ± std | {pct(mean['WA'])} ± {pct(std['WA'])} | {pct(mean['UA'])} ± "
        f"{pct(std['UA'])} | {pct(mean['F1'])} ± {pct(std['F1'])} | "
        f"{summary.get('test_count', '')} |"
    )
    return "\n".join(lines) + "\n\n"


def _selection(info):
    if info["selection"] == "best":
        return ("This fold was exported as the one with the best **test** UA, so its figures "
                "are an optimistic estimate: the mean over folds is the fair one.")
    return f"This fold was chosen by hand (`--fold {info['fold']}`)."


def _usage_fields(info):
    """Use and Upload: the hub id (or ``USER/REPO``) and the folder's name."""
    return {
        "source": info["repo_id"] or "USER/REPO",
        "out_name": os.path.basename(info["out_folder"]),
    }


def _licence_fields(info):
    """Licences: the upstream's and the corpus's terms."""
    return {"upstream_licence": upstream_licence(info), "corpus_terms": _corpus(info)[1]}


def upstream_licence(info):
    """What the card says of the upstream's licence.

    Example
    -------
    >>> upstream_licence({"upstream": "fbank", "upstream_source": ""})
    'No pretrained upstream: SpeechBrain filterbanks (SpeechBrain is Apache-2.0).'
    """
    name, source = str(info["upstream"]).lower(), str(info["upstream_source"])
    if name == "fbank":
        return "No pretrained upstream: SpeechBrain filterbanks (SpeechBrain is Apache-2.0)."
    if name != "emotion2vec":
        return (f"The upstream ({info['upstream_description']}) keeps its own terms: check them "
                "before publishing this model.")
    if is_local(source):
        return (f"Unknown: the upstream was a local directory (`{source}`). State where its "
                "weights come from and their licence before publishing this model.")
    return (
        f"The upstream `{source}` is not redistributed here: FunASR downloads it from its hub "
        "when the model loads. The emotion2vec model cards (Hugging Face `emotion2vec/*`, "
        "ModelScope `iic/emotion2vec*`) declare `license: other` (`model-license`) and link to "
        "FunASR's model licence (`MODEL_LICENSE` in github.com/modelscope/FunASR, the FunASR "
        "Model Open Source License Agreement, which asks users to credit the model's source "
        "and authors); the emotion2vec code repository (github.com/ddlBoJack/emotion2vec) is "
        "MIT, which covers the code rather than the weights. **Check the model card of "
        f"`{source}` and that licence** before redistribution or commercial use."
    )


def _training_fields(info):
    """Training: the checkpoint, the command-line overrides, the export's warnings."""
    validation = ", ".join(f"{k.removeprefix('averaged_')} {v}"
                           for k, v in info["checkpoint_meta"].items()
                           if k.removeprefix("averaged_") in ("WA", "UA", "F1", "loss"))
    overrides = (info["summary"] or {}).get("configuration", {}).get("overrides", {})
    shown = {k: v for k, v in overrides.items()
             if k not in _PATH_OVERRIDES and not (isinstance(v, str) and os.path.isabs(v))}
    return {
        "checkpoint": os.path.basename(info["checkpoint"]),
        "validation": validation,
        "overrides": ("\n\nCommand-line overrides (paths left out): "
                      + ", ".join(f"`--{k}={v}`" for k, v in shown.items())) if shown else "",
        "warnings": ("\n\n## Warnings\n\n" + "\n".join(f"* {w}" for w in info["warnings"])
                     if info["warnings"] else ""),
    }


def _deployment_fields(info):
    """Calibration, ONNX and NIR: the temperature, and the extra files when exported."""
    calibration = info.get("calibration") or {}
    test = calibration.get("test") or {}
    lines = ["## Calibration, ONNX and NIR", ""]
    if calibration:
        lines.append(
            f"* **Calibration**: temperature {info['temperature']:.4g}, fitted on the fold's "
            f"validation part ({calibration.get('valid', {}).get('count', '?')} utterances). "
            f"On its test part, expected calibration error (10 bins) "
            f"{pct(test.get('ece_before', float('nan')))} % before, "
            f"{pct(test.get('ece_after', float('nan')))} % after; negative log-likelihood "
            f"{test.get('nll_before', float('nan')):.3f} before, "
            f"{test.get('nll_after', float('nan')):.3f} after.")
    else:
        lines.append("* **Calibration**: none (the run has no `calibration.json`): temperature 1.")
    onnx = info.get("onnx")
    if onnx:
        lines.append(
            "* **ONNX**: `adapter.onnx` (inputs `feats` [batch, frames, dim] and `lengths` "
            "[batch], output `logits`, before the temperature; frames a dynamic axis) runs the "
            "adapter through onnxruntime, the model's default (`adapter_backend: onnx`): "
            "inference needs neither SpikingJelly nor Numba. `backend=\"torch\"` or "
            "`ptssnn-classify --backend torch` uses PyTorch instead. Largest logit difference to "
            f"PyTorch on the export's check: {onnx['max_logit_difference']:.2g}.")
    nir = info.get("nir")
    if nir:
        trip = nir.get("round_trip", {})
        where = ("The whole adapter maps to the chip" if nir["whole"]
                 else "Host/chip split of this adapter")
        lines += [
            f"* **NIR**: `adapter.nir` (NIR's HDF5 format, one step per upstream frame, dt "
            f"{nir['dt']:g} s) holds the spiking part; `adapter_nir.json` describes its input "
            f"stream ({nir['input']['channels']} channels, {nir['input']['steps']} steps) and "
            f"output (lag {nir['output']['lag']} step). {where}:",
            "",
            "  | runs on | what | parameters | neurons |",
            "  |---|---|---:|---:|",
            f"  | chip (NIR graph) | {'; '.join(nir['chip'])} | {nir['parameters']['chip']:,} "
            f"| {nir['neurons']['chip']:,} |",
            f"  | host | {'; '.join(nir['host'])} | {nir['parameters']['host']:,} "
            f"| {nir['neurons']['host']:,} |",
            "",
            f"  Round trip (imported back through nirtorch, on a generated utterance): "
            f"{trip.get('flipped_spikes', '?')} of {trip.get('spikes', '?')} spikes differ "
            f"from PyTorch's.",
        ]
    return {"deployment": "\n".join(lines) + "\n", "temperature": f"{info['temperature']:.4g}"}
