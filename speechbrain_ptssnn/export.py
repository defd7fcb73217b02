"""Turns a finished training run into a hub-ready model folder.

Usage::

    python -m speechbrain_ptssnn.export RUN_FOLDER OUT_FOLDER [--fold K | --best]
        [--repo_id USER/NAME] [--upstream_source SRC] [--max_chunk_seconds S] [--force]

``RUN_FOLDER`` is a recipe's ``output_folder`` (``hyperparams.yaml``,
``summary.json``, ``fold_<k>/...``). ``--fold K`` exports fold K;
``--best`` (the default) the finished fold with the highest **test** UA
(ties: the lowest fold number). Within the fold, the checkpoint is the one
training evaluated: the best by the run's ``best_metric`` on validation
(``Checkpointer.find_checkpoint``). ``OUT_FOLDER`` receives:

* ``hyperparams.yaml`` -- HyperPyYAML for
  :class:`~speechbrain_ptssnn.inference.EmotionRecognizer`: the upstream as the
  run used it (``upstream_source``, overridable), the adapter with the run's
  hparams, ``storage_dtype``, ``max_chunk_seconds``, the label encoder and a
  ``pretrainer`` that fetches the two files below from ``pretrained_path``
  (``--repo_id``, else the output folder; ``EmotionRecognizer.from_hparams``
  replaces it with its ``source``);
* ``adapter.ckpt`` -- the adapter's weights, a plain state dict
  (``torch.load(..., weights_only=True)`` reads it);
* ``label_encoder.txt`` -- the fold's label encoder;
* ``custom_interface.py`` -- for SpeechBrain's ``foreign_class``;
* ``README.md`` -- a model card: results, usage, licences, the trust warning.

The export checks that the weights load strictly into the adapter its
``hyperparams.yaml`` builds. Uploading is left to the hub's own tools, e.g.
``huggingface-cli upload USER/NAME OUT_FOLDER .``.
"""

import argparse
import glob
import json
import math
import os
import sys
import tempfile

import torch
import yaml

from speechbrain_ptssnn.runs import (
    OPTIONS_FILE,
    best_checkpoint,
    fold_folders,
    fold_number,
    read_fold_metrics,
    read_json,
)
FILES = (
    "hyperparams.yaml", "adapter.ckpt", "label_encoder.txt", "custom_interface.py", "README.md",
)

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


# ------------------------------------------------------------ YAML plumbing
class Tagged:
    """A HyperPyYAML tagged node (``!new:...``, ``!name:...``) read without running it.

    Arguments
    ---------
    tag : str
        The tag without the ``!`` (``new:speechbrain_ptssnn.lobes.PTSSNN``).
    value : object
        The node's value (a dict, list or scalar; ``""`` for a bare tag).

    Example
    -------
    >>> node = read_tagged_yaml("a: !new:torch.nn.Linear {in_features: 2, out_features: 3}")["a"]
    >>> node.tag, node.value
    ('new:torch.nn.Linear', {'in_features': 2, 'out_features': 3})
    """

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value

    def __repr__(self):
        return f"Tagged({self.tag!r}, {self.value!r})"


class _TaggedLoader(yaml.SafeLoader):
    pass


def _construct_tagged(loader, tag_suffix, node):
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
    return Tagged(tag_suffix, value)


_TaggedLoader.add_multi_constructor("!", _construct_tagged)


def read_tagged_yaml(text):
    """Parses HyperPyYAML text without importing or calling anything.

    Arguments
    ---------
    text : str
        YAML text.

    Returns
    -------
    dict
        Plain values; tagged nodes as :class:`Tagged`.

    Example
    -------
    >>> read_tagged_yaml("n: 3\\nf: !name:math.sqrt")
    {'n': 3, 'f': Tagged('name:math.sqrt', '')}
    """
    return yaml.load(text, Loader=_TaggedLoader) or {}


def _scalar(value):
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return {math.inf: ".inf", -math.inf: "-.inf"}.get(value, ".nan")
        text = repr(value)
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} into hyperparams.yaml")


def _emit(value, indent=0):
    """YAML text of a value (inline for scalars/lists, block for mappings)."""
    pad = " " * indent
    if isinstance(value, Tagged):
        if value.tag.startswith(("include:", "PLACEHOLDER")):
            raise ValueError(f"cannot export a !{value.tag} node")
        if value.tag == "ref":
            return f"!ref {value.value}"
        if isinstance(value.value, dict):
            return f"!{value.tag}" + _emit(value.value, indent)
        if isinstance(value.value, list):
            return f"!{value.tag} {_scalar(value.value)}" if value.value else f"!{value.tag} []"
        return f"!{value.tag}" + (f" {value.value}" if value.value != "" else "")
    if isinstance(value, dict):
        lines = [f"\n{pad}    {key}: {_emit(item, indent + 4)}" for key, item in value.items()]
        return "".join(lines)
    return _scalar(value)


# ------------------------------------------------------------ run reading
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
                             "metrics.json (finish or test it first)")
        return fold
    if not folds:
        raise ValueError(f"{run_folder} has no finished fold (no fold_<k>/metrics.json): "
                         "is it a training run's output folder?")
    return max(sorted(folds), key=lambda k: float(folds[k]["UA"]))


def _plain_state_dict(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path} is not a state dict of tensors")
    return {key: value.detach().cpu().clone().contiguous() for key, value in state.items()}


def _upstream_block(hparams, upstream, source, hub):
    """``(yaml text, description)`` of the upstream module."""
    if isinstance(upstream, Tagged):
        cls = upstream.tag.split(":", 1)[-1]
        if not cls.endswith(("Emotion2vec", "WaveformFeatures")):
            # As training did (build_feature_source): feature modules get wrapped.
            wrapped = Tagged("new:speechbrain_ptssnn.upstreams.waveform.WaveformFeatures",
                             {"features": upstream, "sample_rate": Tagged("ref", "<sample_rate>")})
            return f"upstream: {_emit(wrapped)}\n", f"`{cls}` from the run's hparams"
        return f"upstream: {_emit(upstream)}\n", f"`{cls}` from the run's hparams"
    name = str(upstream).strip().lower()
    if name == "emotion2vec":
        text = (
            f"upstream_source: {_scalar(source)}\n"
            f"upstream_hub: {_scalar(hub)}\n"
            "upstream: !new:speechbrain_ptssnn.upstreams.emotion2vec.Emotion2vec\n"
            "    source: !ref <upstream_source>\n"
            "    hub: !ref <upstream_hub>\n"
        )
        return text, f"emotion2vec `{source}` (frozen, through FunASR)"
    if name == "fbank":
        text = (
            "upstream: !new:speechbrain_ptssnn.upstreams.waveform.WaveformFeatures\n"
            "    features: !new:speechbrain.lobes.features.Fbank\n"
            "        n_mels: !ref <input_size>\n"
            "        sample_rate: !ref <sample_rate>\n"
            "    sample_rate: !ref <sample_rate>\n"
        )
        return text, f"SpeechBrain filterbanks ({hparams.get('input_size')} mels)"
    if name == "precomputed":
        raise ValueError(
            "this run read precomputed features (upstream: precomputed), which a pretrained "
            "model cannot compute: pass --upstream emotion2vec (or fbank) and "
            "--upstream_source with the model that made them"
        )
    raise ValueError(f"cannot export upstream {upstream!r}; expected emotion2vec, fbank or a "
                     "module from the hparams")


def _training_weights_fingerprint(hparams, source):
    """The emotion2vec weights fingerprint the run's feature cache recorded, if unique."""
    cache = hparams.get("feature_cache_folder") or hparams.get("cache_folder")
    if not cache or not os.path.isdir(cache):
        return None
    wanted = os.path.abspath(source) if os.path.isdir(source) else source
    found = set()
    for path in glob.glob(os.path.join(cache, "Emotion2vec-*", "identity.json")):
        identity = read_json(path) or {}
        upstream = identity.get("upstream", {})
        if (upstream.get("source") == wanted
                and identity.get("storage_dtype") == str(hparams.get("storage_dtype", "float16"))):
            found.add(upstream.get("weights"))
    return found.pop() if len(found) == 1 else None


def _is_local(source):
    return bool(source) and (os.path.isabs(source) or os.path.isdir(source)
                             or source.startswith(("./", "../", "~")))


# ------------------------------------------------------------------ export
def export_run(
    run_folder,
    out_folder,
    fold=None,
    repo_id=None,
    upstream=None,
    upstream_source=None,
    max_chunk_seconds=30.0,
    force=False,
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

    Returns
    -------
    dict
        What was exported: ``fold``, ``checkpoint``, ``labels``,
        ``upstream_source``, ``metrics``, ``out_folder``, ``warnings``.

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
    from speechbrain_ptssnn.dataio import label_encoder_for

    run_folder = os.path.abspath(os.fspath(run_folder))
    out_folder = os.path.abspath(os.fspath(out_folder))
    hparams_path = os.path.join(run_folder, "hyperparams.yaml")
    if not os.path.isfile(hparams_path):
        raise FileNotFoundError(f"{run_folder} is not a training run's output folder (no "
                                "hyperparams.yaml)")
    with open(hparams_path, encoding="utf-8") as stream:
        hparams = read_tagged_yaml(stream.read())
    summary = read_json(os.path.join(run_folder, "summary.json"))
    options = (read_json(os.path.join(run_folder, OPTIONS_FILE)) or {}).get("options", {})
    if summary:  # the hparams as training loaded them (n_classes set from the labels)
        plain = summary.get("configuration", {}).get("hparams", {})
        hparams.update({k: v for k, v in plain.items() if not isinstance(hparams.get(k), Tagged)})

    requested = fold
    fold = choose_fold(run_folder, fold)
    fold_folder = os.path.join(run_folder, f"fold_{fold}")
    metrics = read_json(os.path.join(fold_folder, "metrics.json"))
    encoder_path = os.path.join(fold_folder, "label_encoder.txt")
    if not os.path.isfile(encoder_path):
        raise FileNotFoundError(f"{encoder_path} is missing")
    from speechbrain.dataio.encoder import CategoricalEncoder

    encoder = CategoricalEncoder()
    encoder.load(encoder_path)
    encoder.expect_len(len(encoder))
    labels = list(encoder.decode_ndim(range(len(encoder))))
    if metrics.get("labels") and list(metrics["labels"]) != labels:
        raise ValueError(f"{encoder_path} ({labels}) disagrees with metrics.json's labels "
                         f"{metrics['labels']}")
    best_metric = str(hparams.get("best_metric", "UA"))
    checkpoint = best_checkpoint(fold_folder, best_metric)
    state = _plain_state_dict(checkpoint.paramfiles["adapter"])

    # The adapter, exactly as the run's hyperparams.yaml built it.
    adapter = hparams.get("adapter")
    if not isinstance(adapter, Tagged) or not adapter.tag.startswith("new:") \
            or not isinstance(adapter.value, dict):
        raise ValueError(f"{hparams_path} has no `adapter: !new:...` entry to export")
    adapter_kwargs = dict(adapter.value)
    input_size = int(hparams.get("input_size", adapter_kwargs.get("input_size", 0)))
    if "n_classes" in adapter_kwargs:
        adapter_kwargs["n_classes"] = Tagged("ref", "<n_classes>")
    if "input_size" in adapter_kwargs:
        adapter_kwargs["input_size"] = Tagged("ref", "<input_size>")

    warnings = []
    upstream_name = upstream if upstream is not None else hparams.get("upstream", "emotion2vec")
    trained_source = hparams.get("upstream_source") or "iic/emotion2vec_base"
    source = upstream_source or trained_source
    is_emotion2vec = isinstance(upstream_name, str) and upstream_name.lower() == "emotion2vec"
    if is_emotion2vec and _is_local(source):
        warnings.append(
            f"the upstream is a local directory ({source}): the exported model only loads "
            "where that directory exists; pass --upstream_source with its hub id (e.g. "
            "iic/emotion2vec_base) to publish it"
        )
    replaced = upstream_source and upstream_source != trained_source
    if replaced and hparams.get("upstream") != "precomputed":
        warnings.append(
            f"the adapter was trained on features of another upstream_source than `{source}`: "
            "the exported model reproduces the training run only if both hold the same weights"
        )
    if hparams.get("upstream") == "precomputed" and upstream is not None:
        warnings.append("the run used precomputed features: the exported upstream was named "
                        "by hand and may not reproduce them")
    upstream_text, upstream_description = _upstream_block(
        hparams, upstream_name, source, hparams.get("upstream_hub"))
    fingerprint = None
    if isinstance(upstream_name, str) and upstream_name.lower() == "emotion2vec" \
            and source == trained_source:
        fingerprint = _training_weights_fingerprint(hparams, source)

    storage_dtype = str(hparams.get("storage_dtype", "float16"))
    sample_rate = int(hparams.get("sample_rate", 16000))
    corpus = str(hparams.get("corpus") or options.get("corpus") or "unknown")
    pretrained_path = repo_id or out_folder
    info = {
        "run_folder": run_folder,
        "fold": fold,
        "selection": "best" if requested is None else "fold",
        "checkpoint": str(checkpoint.path),
        "checkpoint_meta": dict(checkpoint.meta),
        "best_metric": best_metric,
        "labels": labels,
        "corpus": corpus,
        "upstream": upstream_name if isinstance(upstream_name, str) else upstream_name.tag,
        "upstream_source": source,
        "upstream_description": upstream_description,
        "storage_dtype": storage_dtype,
        "metrics": metrics,
        "summary": summary,
        "options": options,
        "repo_id": repo_id,
        "out_folder": out_folder,
        "max_chunk_seconds": max_chunk_seconds,
        "warnings": warnings,
        "parameters": sum(v.numel() for v in state.values()),
    }

    adapter_text = f"adapter: {_emit(Tagged(adapter.tag, adapter_kwargs))}\n"
    head = _yaml_head(info, input_size, len(labels), sample_rate, pretrained_path, fingerprint)
    _check_weights(head + adapter_text, state, hparams_path)
    text = head + upstream_text + "\n" + adapter_text + _YAML_TAIL

    if os.path.isdir(out_folder) and os.listdir(out_folder) and not force:
        raise ValueError(f"{out_folder} is not empty: choose another folder or pass --force")
    os.makedirs(out_folder, exist_ok=True)
    torch.save(state, os.path.join(out_folder, "adapter.ckpt"))
    label_encoder_for(labels).save(os.path.join(out_folder, "label_encoder.txt"))
    _write(os.path.join(out_folder, "hyperparams.yaml"), text)
    _write(os.path.join(out_folder, "custom_interface.py"), _CUSTOM_INTERFACE)
    _write(os.path.join(out_folder, "README.md"), model_card(info))
    return info


def _write(path, text):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def _check_weights(yaml_text, state, hparams_path):
    """Builds the adapter from the exported YAML and loads the weights strictly."""
    from hyperpyyaml import load_hyperpyyaml

    from speechbrain_ptssnn.inference import load_adapter_state

    adapter = load_hyperpyyaml(yaml_text)["adapter"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "adapter.ckpt")
        torch.save(state, path)
        try:
            load_adapter_state(adapter, path)
        except ValueError as error:
            raise ValueError(f"the checkpoint does not fit the adapter of {hparams_path}: "
                             f"{error}") from error


def _yaml_head(info, input_size, n_classes, sample_rate, pretrained_path, fingerprint):
    labels = ", ".join(info["labels"])
    lines = [
        "# ############################################################################",
        "# PTS-SNN speech emotion recognition: inference hparams for",
        "# speechbrain_ptssnn.inference.EmotionRecognizer (from_hparams / foreign_class).",
        f"# Exported from {os.path.basename(info['run_folder'])}, fold {info['fold']}, "
        f"corpus {info['corpus']}; labels: {labels}.",
        "# HyperPyYAML: loading this file imports and runs the objects it names.",
        "# ############################################################################",
        "",
        "# Where the pretrainer fetches adapter.ckpt and label_encoder.txt (a hub id or a",
        "# folder). EmotionRecognizer.from_hparams sets it to its `source`.",
        f"pretrained_path: {_scalar(str(pretrained_path))}",
        "",
        f"sample_rate: {sample_rate}",
        "# Features are rounded through the dtype training stored them in.",
        f"storage_dtype: {_scalar(info['storage_dtype'])}",
        "# Longer audio: the upstream runs per chunk, frames concatenated before the adapter.",
        f"max_chunk_seconds: {_scalar(info['max_chunk_seconds'])}",
        f"input_size: {int(input_size)}",
        f"n_classes: {int(n_classes)}",
    ]
    if fingerprint:
        lines += [
            "# Fingerprint of the upstream weights the adapter was trained on (checked at load).",
            f"upstream_weights: {_scalar(fingerprint)}",
            "check_upstream_weights: true",
        ]
    return "\n".join(lines) + "\n\n"


_YAML_TAIL = """
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder

modules:
    upstream: !ref <upstream>
    adapter: !ref <adapter>

pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        adapter: !ref <adapter>
        label_encoder: !ref <label_encoder>
    paths:
        adapter: !ref <pretrained_path>/adapter.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
    custom_hooks:
        adapter: !name:speechbrain_ptssnn.inference.load_adapter_state
        label_encoder: !name:speechbrain_ptssnn.inference.load_label_encoder
"""

_CUSTOM_INTERFACE = '''"""PTS-SNN emotion recognition for SpeechBrain's foreign_class.

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source=SOURCE, pymodule_file="custom_interface.py",
                          classname="EmotionRecognizer")

The interface lives in the speechbrain-ptssnn package (which hyperparams.yaml
needs anyway): install it first.
"""

try:
    from speechbrain_ptssnn.inference import EmotionRecognizer  # noqa: F401
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "this model needs the speechbrain-ptssnn package (pip install speechbrain-ptssnn, "
        "or pip install -e . in its repository)"
    ) from error

__all__ = ["EmotionRecognizer"]
'''


# ---------------------------------------------------------------- the card
def _pct(value):
    return f"{float(value):.2f}"


def _upstream_licence(info):
    name, source = str(info["upstream"]).lower(), str(info["upstream_source"])
    if name == "fbank":
        return ("No pretrained upstream: SpeechBrain filterbanks (SpeechBrain is Apache-2.0).")
    if name != "emotion2vec":
        return (f"The upstream ({info['upstream_description']}) keeps its own terms: check them "
                "before publishing this model.")
    if _is_local(source):
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


def model_card(info):
    """The ``README.md`` model card of an export.

    Arguments
    ---------
    info : dict
        What :func:`export_run` gathered (fold, metrics, summary, labels,
        upstream, licences, ...).

    Returns
    -------
    str
        Markdown with Hugging Face front matter.
    """
    labels, metrics, summary = info["labels"], info["metrics"], info["summary"]
    source = info["repo_id"] or "USER/REPO"
    corpus = info["corpus"]
    corpus_name, corpus_terms = CORPORA.get(corpus, (corpus, "unknown to us: check them."))
    protocol = info["options"].get("protocol") or "the corpus default"
    n_folds = info["options"].get("n_folds")
    lines = [
        "---",
        "library_name: speechbrain",
        "pipeline_tag: audio-classification",
        "license: other  # see Licences below",
        "tags:",
        "- speechbrain",
        "- speech-emotion-recognition",
        "- audio-classification",
        "- spiking-neural-network",
        "- pts-snn",
        "---",
        "",
        f"# PTS-SNN speech emotion recognition ({corpus}, fold {info['fold']})",
        "",
        "A frozen upstream turns 16 kHz audio into frames; PTS-SNN, a prompt-tuned "
        "temporal-shift spiking adapter, classifies the emotion from them (the "
        "speechbrain-ptssnn plugin for SpeechBrain).",
        "",
        f"* **Labels** ({len(labels)}): {', '.join(labels)}",
        f"* **Upstream**: {info['upstream_description']}; features rounded through "
        f"`{info['storage_dtype']}` as in training",
        f"* **Adapter**: {info['parameters']:,} parameters (`adapter.ckpt`)",
        f"* **Trained on**: {corpus_name}",
        "* **Input**: any audio file soundfile reads; downmixed to mono and resampled to 16 kHz. "
        f"Audio longer than {info['max_chunk_seconds']} s goes through the upstream in equal "
        "chunks whose frames are concatenated before the adapter (`max_chunk_seconds`).",
        "",
        "## Results",
        "",
        f"Fold {info['fold']} of {n_folds or '?'} ({protocol} protocol), on its held-out test "
        f"set ({metrics.get('count', '?')} utterances), with the checkpoint that was best on "
        f"validation by {info['best_metric']}:",
        "",
        "| WA (%) | UA (%) | F1 (%) |",
        "|---:|---:|---:|",
        f"| {_pct(metrics['WA'])} | {_pct(metrics['UA'])} | {_pct(metrics['F1'])} |",
        "",
        "Recall per class (%): " + ", ".join(
            f"{lab} {_pct(val)}" for lab, val in (metrics.get("recall") or {}).items()),
        "",
    ]
    if summary and summary.get("folds"):
        lines += ["All folds of the run:", "",
                  "| fold | WA (%) | UA (%) | F1 (%) | test utterances |",
                  "|---:|---:|---:|---:|---:|"]
        for k in sorted(summary["folds"], key=int):
            f = summary["folds"][k]
            lines.append(f"| {k} | {_pct(f['WA'])} | {_pct(f['UA'])} | {_pct(f['F1'])} "
                         f"| {f['count']} |")
        mean, std = summary["mean"], summary["std"]
        lines.append(f"| mean ± std | {_pct(mean['WA'])} ± {_pct(std['WA'])} | "
                     f"{_pct(mean['UA'])} ± "
                     f"{_pct(std['UA'])} | {_pct(mean['F1'])} ± {_pct(std['F1'])} | "
                     f"{summary.get('test_count', '')} |")
        lines.append("")
    if info["selection"] == "best":
        lines.append("This fold was exported as the one with the best **test** UA, so its "
                     "figures are an optimistic estimate: the mean over folds is the fair one.")
    else:
        lines.append(f"This fold was chosen by hand (`--fold {info['fold']}`).")
    lines += [
        "",
        "## Use",
        "",
        "```bash",
        "pip install speechbrain-ptssnn   # or pip install -e . in its repository",
        "```",
        "",
        "```python",
        "from speechbrain_ptssnn.inference import EmotionRecognizer",
        "",
        f'model = EmotionRecognizer.from_hparams(source="{source}", savedir="pretrained_ptssnn")',
        'probabilities, score, index, label = model.classify_file("speech.wav")',
        "print(label[0], probabilities[0])",
        "embeddings = model.encode_batch(wavs, wav_lens)   "
        "# [batch, features] before the classifier",
        "```",
        "",
        "or through SpeechBrain's `foreign_class` (the package must be installed):",
        "",
        "```python",
        "from speechbrain.inference.interfaces import foreign_class",
        "",
        f'model = foreign_class(source="{source}", pymodule_file="custom_interface.py",',
        '                      classname="EmotionRecognizer", savedir="pretrained_ptssnn",',
        f'                      overrides={{"pretrained_path": "{source}"}})',
        'probabilities, score, index, label = model.classify_file("speech.wav")',
        "```",
        "",
        "(`overrides` tells the pretrainer where `adapter.ckpt` and `label_encoder.txt` are; "
        "`EmotionRecognizer.from_hparams` does this by itself.) From the command line:",
        "",
        "```bash",
        f"ptssnn-classify --source {source} speech.wav other.flac   "
        "# label and probabilities",
        f"ptssnn-classify --source {source} --json recordings/*.wav > out.json",
        "```",
        "",
        "**Probabilities**: the adapter's logits are spiking firing rates in [0, 1], so their "
        "softmax (reported as probabilities, as in training's `predictions.csv`) is close to "
        "uniform; the label is its arg max. `model.compute_logits(...)` (and `rates` in the "
        "CLI's JSON) gives the rates.",
        "",
        "## Upload",
        "",
        "```bash",
        f"python -m speechbrain_ptssnn.export RUN_FOLDER {os.path.basename(info['out_folder'])} "
        f"--fold {info['fold']} --repo_id {source}",
        f"huggingface-cli upload {source} {os.path.basename(info['out_folder'])} .",
        "```",
        "",
        "## Files",
        "",
        "* `hyperparams.yaml`: the inference hparams (upstream, adapter, label encoder, "
        "pretrainer)",
        "* `adapter.ckpt`: the adapter's weights, a plain state dict "
        "(`torch.load(path, weights_only=True)`)",
        "* `label_encoder.txt`: SpeechBrain `CategoricalEncoder` of the labels",
        "* `custom_interface.py`: the `foreign_class` entry point",
        "",
        "## Security",
        "",
        "`hyperparams.yaml` is HyperPyYAML: loading it imports and calls the Python objects it "
        "names, so `from_hparams`/`foreign_class` on a repository you do not trust runs its "
        "code (as for every SpeechBrain model). Read it first. The weights are loaded with "
        "`weights_only=True`.",
        "",
        "## Licences",
        "",
        "* **This adapter and speechbrain-ptssnn**: the code is Apache-2.0; the weights are "
        "derived from the upstream and the corpus below, whose terms also apply.",
        f"* **Upstream**: {_upstream_licence(info)}",
        f"* **Training corpus**: {corpus_name}: {corpus_terms}",
        "",
        "Nothing here is legal advice; the statements above are what we could source when "
        "this card was written.",
        "",
        "## Training",
        "",
        f"Corpus `{corpus}`, {protocol} protocol, {n_folds or '?'} folds; checkpoint "
        f"`{os.path.basename(info['checkpoint'])}` (validation: " + ", ".join(
            f"{k} {v}" for k, v in info["checkpoint_meta"].items()
            if k in ("WA", "UA", "F1", "loss")) + ").",
    ]
    overrides = (summary or {}).get("configuration", {}).get("overrides", {})
    shown = {k: v for k, v in overrides.items()
             if k not in ("data_folder", "output_folder", "feature_cache_folder", "features_folder")
             and not (isinstance(v, str) and os.path.isabs(v))}
    if shown:
        lines += ["", "Command-line overrides (paths left out): " +
                  ", ".join(f"`--{k}={v}`" for k, v in shown.items())]
    if info["warnings"]:
        lines += ["", "## Warnings", ""] + [f"* {w}" for w in info["warnings"]]
    lines += [
        "",
        "## Citation",
        "",
        "emotion2vec: Ma et al., *emotion2vec: Self-Supervised Pre-Training for Speech Emotion "
        "Representation*, arXiv:2312.15185 (2023). SpeechBrain: Ravanelli et al., 2021 "
        "(arXiv:2106.04624).",
        "",
    ]
    return "\n".join(lines)


# -------------------------------------------------------------------- CLI
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
                        help="replace the run's upstream (needed for precomputed features)")
    parser.add_argument("--upstream_source", default=None,
                        help="replace the run's upstream_source (e.g. the hub id of a local copy)")
    parser.add_argument("--max_chunk_seconds", type=float, default=30.0,
                        help="longest audio the upstream sees at once (default 30; 0: no limit)")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")
    args = parser.parse_args(argv)
    try:
        info = export_run(
            args.run_folder, args.out_folder, fold=args.fold, repo_id=args.repo_id,
            upstream=args.upstream, upstream_source=args.upstream_source,
            max_chunk_seconds=args.max_chunk_seconds or None, force=args.force,
        )
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    how = "--fold" if args.fold is not None else "best test UA"
    print(f"exported fold {info['fold']} ({how}; test UA {_pct(info['metrics']['UA'])} %) of "
          f"{info['run_folder']} to {info['out_folder']}: " + ", ".join(FILES))
    for warning in info["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
