"""The export's tagged YAML and templates, without a training run (tests/test_inference.py
exports a trained run end to end)."""

from pathlib import Path

import pytest
from hyperpyyaml import load_hyperpyyaml

from speechbrain_ptssnn.export import dump_yaml, read_tagged_yaml, tag_of
from speechbrain_ptssnn.export.hub_files import FILES, HPARAMS_TEMPLATE, template_text
from speechbrain_ptssnn.export.hub_hparams import (
    adapter_node,
    fingerprint_entries,
    hub_hparams,
    settings_entries,
    upstream_entries,
)

HPARAMS = Path(__file__).resolve().parents[1] / "hparams" / "ptssnn.yaml"


def tags(node):
    """The node as plain values, each tagged node as (tag, value)."""
    if isinstance(node, dict):
        value = {key: tags(item) for key, item in node.items()}
    elif isinstance(node, list):
        value = [tags(item) for item in node]
    else:
        value = getattr(node, "value", node) if tag_of(node) else node
    return (tag_of(node), value) if tag_of(node) else value


def test_every_hyperpyyaml_tag_survives_reading_and_writing():
    text = HPARAMS.read_text()
    document = read_tagged_yaml(text)
    assert tag_of(document["adapter"]) == "!new:speechbrain_ptssnn.lobes.PTSSNN"
    assert tag_of(document["surrogate"]).startswith("!name:")
    assert tag_of(document["neuron"]["surrogate"]) == "!ref"
    assert tag_of(document["adapter"]["neuron"]) == "!ref"
    assert tag_of(document["__set_seed"]).startswith("!apply:")
    assert tag_of(document["output_folder"]) == "!ref"
    assert tag_of(document["data_folder"]) == "!PLACEHOLDER"
    again = read_tagged_yaml(dump_yaml(document))
    assert tags(again) == tags(document)
    assert "# ---- Loss (Eq. 14-18) ----" in dump_yaml(document)  # comments kept too
    overrides = {"data_folder": "/data", "corpus": "emodb"}
    original = load_hyperpyyaml(text, overrides)
    written = load_hyperpyyaml(dump_yaml(document), overrides)
    assert plain_values(written) == plain_values(original)
    assert len(plain_values(written)) > 40


def plain_values(hparams):
    scalars = (int, float, str, type(None))
    return {k: v for k, v in hparams.items()
            if isinstance(v, scalars)
            or (isinstance(v, list) and all(isinstance(x, scalars) for x in v))}


def exported_document(adapter_text, fingerprint=None):
    hparams = read_tagged_yaml(
        f"input_size: 20\nadapter: !new:speechbrain_ptssnn.lobes.PTSSNN\n{adapter_text}"
    )
    info = {"run_folder": "/runs/x", "fold": 3, "corpus": "emodb", "labels": ["angry", "sad"],
            "storage_dtype": "float16", "max_chunk_seconds": 30.0}
    adapter, input_size = adapter_node(hparams, "hyperparams.yaml")
    settings = settings_entries(info, input_size, 2, 16000, "user/repo")
    upstream, _ = upstream_entries(hparams, "fbank", None, None)
    return hub_hparams(info, settings, fingerprint_entries(fingerprint), upstream, adapter)


def test_the_exported_hparams_fill_every_slot_and_load():
    adapter = ("    input_size: 20\n    n_classes: 2\n    hidden_sizes: [16, 8]\n"
               "    bias_hidden_size: 4\n    neuron: !name:speechbrain_ptssnn.lobes.PLIF\n"
               "        surrogate: !name:spikingjelly.activation_based.surrogate.Sigmoid\n")
    text = dump_yaml(exported_document(adapter))
    assert "!PLACEHOLDER" in template_text(HPARAMS_TEMPLATE) and "!PLACEHOLDER" not in text
    assert "# Exported from x, fold 3, corpus emodb; labels: angry, sad." in text
    assert 'pretrained_path: "user/repo"' in text and "upstream_weights" not in text
    assert "    input_size: !ref <input_size>\n    n_classes: !ref <n_classes>\n" in text
    hparams = load_hyperpyyaml(text)
    assert hparams["adapter"].classifier.linear.out_features == 2
    assert hparams["pretrainer"].paths["adapter"] == "user/repo/adapter.ckpt"
    assert set(hparams["modules"]) == {"upstream", "adapter"}
    with_fingerprint = dump_yaml(exported_document(adapter, fingerprint="abc"))
    assert ('n_classes: 2\n# Fingerprint of the upstream weights the adapter was trained on '
            '(checked at load).\nupstream_weights: "abc"\ncheck_upstream_weights: true\n\n'
            'upstream:') in with_fingerprint
    assert "hyperparams.yaml" in FILES


def test_a_placeholder_left_in_the_run_is_not_exported():
    with pytest.raises(ValueError, match="cannot export a !PLACEHOLDER node"):
        exported_document(
            "    input_size: 20\n    n_classes: !PLACEHOLDER\n    kappa: !PLACEHOLDER\n"
        )
