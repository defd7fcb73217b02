"""The ``hyperparams.yaml`` of an exported model.

The file is ``templates/hyperparams.yaml`` (package data) filled in: the
``${...}`` fields of its header comment with the run's name, fold, corpus and
labels (``string.Template``), then each ``key: !PLACEHOLDER`` slot with
entries (:func:`~speechbrain_ptssnn.export.hub_yaml.fill_slot`): the
settings, the upstream weights' fingerprint (none when it is unknown), the
upstream as the run used it (with ``upstream_source`` and ``upstream_hub``
for emotion2vec) and the adapter with the run's hparams. The label encoder,
``modules`` and the ``pretrainer`` are the template's own.
"""

import glob
import os
import string

from speechbrain_ptssnn.export.hub_files import HPARAMS_TEMPLATE, ONNX_FILE, template_text
from speechbrain_ptssnn.export.hub_yaml import (
    check_exportable,
    fill_slot,
    node_copy,
    read_tagged_yaml,
    ref,
    tag_of,
    tagged,
)
from speechbrain_ptssnn.features import DEFAULT_SOURCE
from speechbrain_ptssnn.runs import read_json
from speechbrain_ptssnn.upstreams.emotion2vec_conf import emotion2vec_feature_size

_EMOTION2VEC = "!new:speechbrain_ptssnn.upstreams.emotion2vec.Emotion2vec"
_ONNX_ADAPTER = "!new:speechbrain_ptssnn.inference.onnx_adapter.OnnxAdapter"
_ONNX_HOOK = "!name:speechbrain_ptssnn.inference.load_onnx_adapter"
_PLIF_TAGS = ("speechbrain_ptssnn.lobes.PLIF", "speechbrain_ptssnn.lobes.neurons.PLIF")
_WAVEFORM_FEATURES = "!new:speechbrain_ptssnn.upstreams.waveform.WaveformFeatures"


def is_local(source):
    """Whether an upstream source is a local directory rather than a hub id.

    Example
    -------
    >>> is_local("iic/emotion2vec_base"), is_local("/models/e2v"), is_local("./e2v")
    (False, True, True)
    """
    return bool(source) and (os.path.isabs(source) or os.path.isdir(source)
                             or source.startswith(("./", "../", "~")))


def hub_hparams(info, settings, fingerprint, upstream, adapter):
    """The exported ``hyperparams.yaml`` as a document (dump it with ``dump_yaml``).

    Arguments
    ---------
    info : dict
        What the export gathered (``run_folder``, ``fold``, ``corpus``, ``labels``).
    settings : dict
        The plain settings (:func:`settings_entries`).
    fingerprint : dict
        :func:`fingerprint_entries` (empty: no fingerprint).
    upstream : dict
        :func:`upstream_entries`.
    adapter : ruamel.yaml.comments.CommentedMap
        :func:`adapter_node`.

    Returns
    -------
    ruamel.yaml.comments.CommentedMap

    Raises
    ------
    ValueError
        If a node the run gave holds ``!PLACEHOLDER`` or ``!include:``.
    """
    header = {
        "run": os.path.basename(info["run_folder"]),
        "fold": info["fold"],
        "corpus": info["corpus"],
        "labels": ", ".join(info["labels"]),
    }
    text = string.Template(template_text(HPARAMS_TEMPLATE)).substitute(
        {key: " ".join(str(value).split()) for key, value in header.items()}  # one comment line
    )
    document = read_tagged_yaml(text)
    slots = {key: {key: value} for key, value in settings.items()}
    onnx = settings.get("adapter_backend") == "onnx"
    slots.update(upstream_weights=fingerprint, upstream=upstream, adapter={"adapter": adapter},
                 onnx_adapter={"onnx_adapter": tagged(_ONNX_ADAPTER)} if onnx else {})
    for key, entries in slots.items():
        fill_slot(document, key, entries)
    if onnx:
        pretrainer = document["pretrainer"]
        pretrainer["loadables"]["onnx_adapter"] = ref("<onnx_adapter>")
        pretrainer["paths"]["onnx_adapter"] = ref(f"<pretrained_path>/{ONNX_FILE}")
        pretrainer["custom_hooks"]["onnx_adapter"] = tagged(_ONNX_HOOK)
    check_exportable(document)
    return document


def torch_neurons(adapter):
    """The adapter's node with every PLIF layer on the plain-PyTorch backend, SpikingJelly-free.

    For exports that run without SpikingJelly and Numba (``--onnx``): each
    ``!name:speechbrain_ptssnn.lobes.PLIF`` gets ``backend: torch`` and loses a
    SpikingJelly ``surrogate`` (gradients only; the spikes are the same); an
    adapter without a ``neuron`` entry gets one.

    Raises
    ------
    ValueError
        If the node still names SpikingJelly afterwards.

    Example
    -------
    >>> text = ("a: !new:speechbrain_ptssnn.lobes.PTSSNN"
    ...         "\\n  neuron: !name:speechbrain_ptssnn.lobes.PLIF"
    ...         "\\n    surrogate: !name:spikingjelly.x.Sigmoid\\n")
    >>> dict(torch_neurons(read_tagged_yaml(text)["a"])["neuron"])
    {'backend': 'torch'}
    """
    node = node_copy(adapter)
    if "neuron" not in node:
        node["neuron"] = tagged("!name:" + _PLIF_TAGS[0], {})
    _torch_neurons(node)
    from speechbrain_ptssnn.export.hub_yaml import dump_yaml

    if "spikingjelly" in dump_yaml({"adapter": node}):
        raise ValueError("the adapter's hparams name SpikingJelly outside its PLIF neurons: "
                         "it cannot be exported to run without SpikingJelly")
    return node


def _torch_neurons(node):
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            tag = (tag_of(value) or "").split(":", 1)[-1]
            if tag in _PLIF_TAGS and not isinstance(value, dict):
                node[key] = value = tagged(tag_of(value), {})
            if tag in _PLIF_TAGS:
                surrogate = tag_of(value.get("surrogate")) or ""
                if surrogate.split(":", 1)[-1].startswith("spikingjelly."):
                    del value["surrogate"]
                value["backend"] = "torch"
            else:
                _torch_neurons(value)
    elif isinstance(node, list):
        for item in node:
            _torch_neurons(item)


def settings_entries(info, input_size, n_classes, sample_rate, pretrained_path):
    """The plain settings at the top of the file, in order."""
    return {
        "pretrained_path": str(pretrained_path),
        "sample_rate": int(sample_rate),
        "storage_dtype": info["storage_dtype"],
        "max_chunk_seconds": info["max_chunk_seconds"],
        "temperature": float(info.get("temperature", 1.0)),
        "adapter_backend": str(info.get("adapter_backend", "torch")),
        "input_size": int(input_size),
        "n_classes": int(n_classes),
    }


def fingerprint_entries(fingerprint):
    """``upstream_weights`` and ``check_upstream_weights``, or nothing without a fingerprint."""
    return {"upstream_weights": fingerprint, "check_upstream_weights": True} if fingerprint else {}


def adapter_node(hparams, hparams_path):
    """The run's ``adapter: !new:...`` entry, its sizes referring to the file's keys.

    Returns
    -------
    adapter : ruamel.yaml.comments.CommentedMap
        The adapter's node (its other hparams as the run resolved them).
    input_size : int
        The adapter's input size.

    Raises
    ------
    ValueError
        If the run's hparams have no ``adapter: !new:...`` mapping.
    """
    adapter = hparams.get("adapter")
    if not (tag_of(adapter) or "").startswith("!new:") or not isinstance(adapter, dict):
        raise ValueError(f"{hparams_path} has no `adapter: !new:...` entry to export")
    node = node_copy(adapter)
    input_size = int(hparams.get("input_size", node.get("input_size", 0)))
    for key in ("input_size", "n_classes"):
        if key in node:
            node[key] = ref(f"<{key}>")
    return node, input_size


def choose_upstream(hparams, upstream=None, upstream_source=None):
    """The upstream the export names, checked against the one the adapter was trained on.

    The adapter only ever meets features of the upstream it was trained on:

    * ``--upstream`` of another kind than the run's (``fbank`` for an
      emotion2vec run, anything for a run whose upstream is a module) is
      refused;
    * a run on precomputed features exports only with the upstream the user
      names as the one that computed them: ``--upstream emotion2vec`` and
      ``--upstream_source`` (recorded in the model card); filterbanks, which
      the exported model would compute itself, are refused;
    * a feature size other than the adapter's ``input_size`` is refused
      whenever it can be known (a local model directory's ``config.yaml``, a
      published emotion2vec); when it cannot, a warning says so (the
      recognizer checks it when the model loads).

    Arguments
    ---------
    hparams : dict
        The run's hparams (:func:`~speechbrain_ptssnn.export.hub_yaml.read_tagged_yaml`).
    upstream : str, optional
        The upstream's kind (``emotion2vec`` or ``fbank``): the run's own, or
        the producer of a precomputed run's features.
    upstream_source : str, optional
        Replaces the run's ``upstream_source``.

    Returns
    -------
    dict
        ``name`` (a string, or the run's tagged node), ``source``,
        ``entries`` and ``description`` (:func:`upstream_entries`),
        ``fingerprint`` (:func:`weights_fingerprint`, None unless the run's
        own emotion2vec is exported), ``named_by_hand`` (the producer of
        precomputed features) and ``warnings``.

    Raises
    ------
    ValueError
        For an upstream other than the one the adapter was trained on.
    """
    warnings = []
    trained = hparams.get("upstream", "emotion2vec")
    trained_kind = trained.strip().lower() if isinstance(trained, str) else None
    trained_source = hparams.get("upstream_source") or DEFAULT_SOURCE
    named_by_hand = trained_kind == "precomputed"
    name = _upstream_name(hparams, trained, trained_kind, upstream, upstream_source)
    source = upstream_source or trained_source
    is_emotion2vec = isinstance(name, str) and name.lower() == "emotion2vec"
    if is_emotion2vec and is_local(source):
        warnings.append(
            f"the upstream is a local directory ({source}): the exported model only loads "
            "where that directory exists; pass --upstream_source with its hub id (e.g. "
            "iic/emotion2vec_base) to publish it"
        )
    replaced = bool(upstream_source) and upstream_source != trained_source
    if replaced and not named_by_hand:
        warnings.append(
            f"the adapter was trained on features of another upstream_source than `{source}`: "
            "the exported model reproduces the training run only if both hold the same weights"
        )
    if is_emotion2vec and (replaced or named_by_hand):
        _check_feature_size(hparams, source, warnings)
    entries, description = upstream_entries(hparams, name, source, hparams.get("upstream_hub"))
    if named_by_hand:
        description += (" -- named at export as the model that computed the run's precomputed "
                        "features (not checked)")
        warnings.append(f"the run used precomputed features: `{source}` is recorded in the model "
                        "card as the upstream you named as their producer")
    fingerprint = None
    if is_emotion2vec and source == trained_source and not named_by_hand:
        fingerprint = weights_fingerprint(hparams, source)
    return {"name": name, "source": source, "entries": entries, "description": description,
            "fingerprint": fingerprint, "named_by_hand": named_by_hand, "warnings": warnings}


def _upstream_name(hparams, trained, trained_kind, upstream, upstream_source):
    """The upstream's name for the export (:func:`choose_upstream`'s first check).

    Raises
    ------
    ValueError
        For a precomputed run without ``--upstream emotion2vec --upstream_source``,
        or an ``upstream`` of another kind than the run's.
    """
    requested = str(upstream).strip().lower() if upstream is not None else None
    if trained_kind == "precomputed":
        if requested != "emotion2vec" or not upstream_source:
            why = (" Filterbanks are computed by the exported model itself: they are never what "
                   "a run on precomputed features was trained on." if requested == "fbank" else "")
            raise ValueError(
                "this run was trained on precomputed features (upstream: precomputed), which a "
                "pretrained model cannot compute: export it only with the upstream that "
                "produced them, named with --upstream emotion2vec --upstream_source <the model "
                f"that computed {hparams.get('features_folder') or 'the .npy files'}>." + why
            )
        return "emotion2vec"
    if requested is not None and requested != trained_kind:
        own = trained_kind or f"the module {tag_of(trained)}"
        raise ValueError(
            f"the adapter was trained on {own} features: --upstream {upstream} would feed it "
            "features it never saw. Leave --upstream out to export it with its own upstream."
        )
    return trained if upstream is None else upstream


def _check_feature_size(hparams, source, warnings):
    """Refuses an emotion2vec whose feature size is known and not the adapter's."""
    expected = hparams.get("input_size")
    size = emotion2vec_feature_size(source)
    if size is None:
        warnings.append(f"the feature size of `{source}` is unknown here: the exported model "
                        "refuses to load if it is not the adapter's input_size "
                        f"({expected})")
    elif expected is not None and int(size) != int(expected):
        raise ValueError(
            f"`{source}` gives {size}-dim features but the adapter was trained on "
            f"{expected}-dim ones (input_size): refusing to pair them"
        )


def upstream_entries(hparams, upstream, source, hub):
    """The upstream's entries of the file, and a description of it for the card.

    Arguments
    ---------
    hparams : dict
        The run's hparams.
    upstream : str or tagged node
        ``emotion2vec``, ``fbank``, or a module node from the run's hparams
        (a feature module is wrapped in ``WaveformFeatures``, as training did).
    source, hub : str
        emotion2vec's ``upstream_source`` and ``upstream_hub``.

    Returns
    -------
    entries : dict
        ``upstream`` (after ``upstream_source`` and ``upstream_hub`` for emotion2vec).
    description : str

    Raises
    ------
    ValueError
        For ``precomputed`` features or an unknown upstream.
    """
    if tag_of(upstream):
        cls = tag_of(upstream).split(":", 1)[-1]
        if not cls.endswith(("Emotion2vec", "WaveformFeatures")):
            # As training did (build_feature_source): feature modules get wrapped.
            upstream = tagged(_WAVEFORM_FEATURES,
                              {"features": upstream, "sample_rate": ref("<sample_rate>")})
        return {"upstream": upstream}, f"`{cls}` from the run's hparams"
    name = str(upstream).strip().lower()
    if name == "emotion2vec":
        node = tagged(
            _EMOTION2VEC, {"source": ref("<upstream_source>"), "hub": ref("<upstream_hub>")}
        )
        entries = {"upstream_source": source, "upstream_hub": hub, "upstream": node}
        return entries, f"emotion2vec `{source}` (frozen, through FunASR)"
    if name == "fbank":
        fbank = tagged("!new:speechbrain.lobes.features.Fbank",
                       {"n_mels": ref("<input_size>"), "sample_rate": ref("<sample_rate>")})
        node = tagged(_WAVEFORM_FEATURES, {"features": fbank, "sample_rate": ref("<sample_rate>")})
        return {"upstream": node}, f"SpeechBrain filterbanks ({hparams.get('input_size')} mels)"
    if name == "precomputed":
        raise ValueError(
            "this run read precomputed features (upstream: precomputed), which a pretrained "
            "model cannot compute: pass --upstream emotion2vec and --upstream_source with the "
            "model that made them"
        )
    raise ValueError(f"cannot export upstream {upstream!r}; expected emotion2vec, fbank or a "
                     "module from the hparams")


def weights_fingerprint(hparams, source):
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
