"""SpeechBrain datasets of one fold: cached features and encoded emotions."""

import os

import speechbrain as sb
from speechbrain.dataio.encoder import CategoricalEncoder

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


def dataio_prep(fold_folder, feature_source, labels, sorting="random"):
    """Builds the train, valid and test datasets of a prepared fold.

    Each item provides ``id``, ``feats`` (the upstream's frames ``[frames,
    dim]`` from ``feature_source.load(wav)``, float32 after the storage
    dtype), ``emo`` and ``emo_encoded``.

    Arguments
    ---------
    fold_folder : str
        Holds ``train.json``, ``valid.json`` and ``test.json``.
    feature_source : object
        Has ``load(wav_path) -> Tensor[frames, dim]`` (a feature cache or
        precomputed features, see :mod:`speechbrain_ptssnn.features`).
    labels : list of str
        The classes, in encoder order.
    sorting : str
        ``"random"`` (shuffled training batches), ``"ascending"`` or
        ``"descending"`` (training set sorted by duration, less padding).

    Returns
    -------
    dict
        ``"train"``, ``"valid"``, ``"test"``: ``DynamicItemDataset`` each.
    """
    if sorting not in SORTINGS:
        raise ValueError(f"sorting must be one of {SORTINGS}, got {sorting!r}")
    encoder = label_encoder_for(labels)

    @sb.utils.data_pipeline.takes("wav")
    @sb.utils.data_pipeline.provides("feats")
    def feature_pipeline(wav):
        return feature_source.load(wav)

    @sb.utils.data_pipeline.takes("emo")
    @sb.utils.data_pipeline.provides("emo", "emo_encoded")
    def label_pipeline(emo):
        yield emo
        yield encoder.encode_label_torch(emo)

    datasets = {}
    for split in ("train", "valid", "test"):
        manifest = os.path.join(fold_folder, f"{split}.json")
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_json(
            json_path=manifest,
            dynamic_items=[feature_pipeline, label_pipeline],
            output_keys=["id", "feats", "emo", "emo_encoded"],
        )
    if sorting != "random":
        datasets["train"] = datasets["train"].filtered_sorted(
            sort_key="duration", reverse=sorting == "descending"
        )
    return datasets
