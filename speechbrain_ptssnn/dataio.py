"""SpeechBrain datasets of one fold: cached features and encoded emotions."""

import os

import speechbrain as sb
from speechbrain.dataio.encoder import CategoricalEncoder

from speechbrain_ptssnn.runs import LABEL_ENCODER, SPLITS

SORTINGS = ("random", "ascending", "descending")


def label_encoder_for(labels):
    """A ``CategoricalEncoder`` whose indices follow ``labels``' order.

    Arguments
    ---------
    labels : list of str
        The class names; index ``i`` encodes ``labels[i]``.

    Returns
    -------
    speechbrain.dataio.encoder.CategoricalEncoder

    Example
    -------
    >>> label_encoder_for(["angry", "sad"]).encode_label("sad")
    1
    """
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(labels)
    encoder.expect_len(len(labels))
    return encoder


def dataio_prep(hparams, feature_source, labels):
    """Builds the train, valid and test datasets of a prepared fold.

    Each item provides ``id``, ``feats`` (the upstream's frames ``[frames,
    dim]`` from ``feature_source.load(wav)``, float32 after the storage
    dtype), ``emo`` and ``emo_encoded``. The label encoder of the hparams is
    filled in ``labels`` order and saved as the fold's ``label_encoder.txt``.

    Arguments
    ---------
    hparams : dict
        A fold's hparams: ``fold_folder`` (holding ``train.json``,
        ``valid.json`` and ``test.json``), ``label_encoder`` and ``sorting``
        (``"random"``: shuffled training batches; ``"ascending"`` or
        ``"descending"``: training set sorted by duration, less padding).
    feature_source : object
        Has ``load(wav_path) -> Tensor[frames, dim]`` (a feature cache or
        precomputed features, see :mod:`speechbrain_ptssnn.features`).
    labels : list of str
        The classes, in encoder order.

    Returns
    -------
    dict
        ``"train"``, ``"valid"``, ``"test"``: ``DynamicItemDataset`` each.
    """
    sorting = hparams["sorting"]
    if sorting not in SORTINGS:
        raise ValueError(f"sorting must be one of {SORTINGS}, got {sorting!r}")
    encoder = hparams["label_encoder"]
    encoder.load_or_create(
        os.path.join(hparams["fold_folder"], LABEL_ENCODER), from_iterables=[labels]
    )
    encoder.expect_len(len(labels))
    datasets = {
        split: manifest_dataset(
            os.path.join(hparams["fold_folder"], f"{split}.json"), feature_source, encoder,
            data_root=hparams.get("data_folder"),
        )
        for split in SPLITS
    }
    if sorting != "random":
        datasets["train"] = datasets["train"].filtered_sorted(
            sort_key="duration", reverse=sorting == "descending"
        )
    return datasets


def manifest_dataset(path, feature_source, encoder, data_root=None):
    """One manifest as a dataset of features and encoded emotions.

    Arguments
    ---------
    path : str
        A JSON manifest (see :mod:`speechbrain_ptssnn.dataprep.manifest`).
    feature_source : object
        Has ``load(wav_path) -> Tensor[frames, dim]``.
    encoder : speechbrain.dataio.encoder.CategoricalEncoder
        The filled label encoder.
    data_root : str, optional
        Replaces the manifest's ``{data_root}`` placeholder (SpeechBrain's
        ``replacements``).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id``, ``feats``, ``emo``, ``emo_encoded``.
    """

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("feats")
    def feature_pipeline(wav):
        return feature_source.load(wav)

    @sb.utils.data_pipeline.takes("emo")
    @sb.utils.data_pipeline.provides("emo", "emo_encoded")
    def label_pipeline(emo):
        yield emo
        yield encoder.encode_label_torch(emo)

    return sb.dataio.dataset.DynamicItemDataset.from_json(
        json_path=path,
        replacements={"data_root": str(data_root)} if data_root else {},
        dynamic_items=[feature_pipeline, label_pipeline],
        output_keys=["id", "feats", "emo", "emo_encoded"],
    )
