"""EmoBox partitions written: a prepared run's folds in EmoBox's format.

:func:`write_partitions` writes the folds of a folder prepared by
:func:`~speechbrain_ptssnn.dataprep.prepare.prepare_corpus` as an EmoBox corpus
folder (``label_map.json`` and ``fold_<k>/<corpus>_{train,test}_fold_<k>.json``
and ``.jsonl``; the layout is described in :mod:`speechbrain_ptssnn.dataprep.emobox`),
so that EmoBox's toolkit, or this project's ``--partitions``, runs exactly those folds.
"""

import json
import os

from speechbrain_ptssnn.dataprep.corpus import EMOTIONS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.runs import SPLITS, fold_folders, fold_number

__all__ = ["write_partitions"]


def write_partitions(prepared_folder, destination, corpus, data_folder=None):
    """Writes the folds of a prepared folder in EmoBox's format.

    Writes ``destination/label_map.json`` (each class to its capitalised
    name) and, per fold, ``fold_<k>/<corpus>_{train,test}_fold_<k>.json`` and
    ``.jsonl``: the training part is the fold's train and valid sets
    together (EmoBox carves validation itself). Keys are ``<corpus>-<utterance
    id>``; ``wav`` is ``downloads/<corpus>/<path under the corpus folder>``,
    EmoBox's convention; ``length`` the duration in seconds; ``channel`` 1, as
    EmoBox writes it.

    Arguments
    ---------
    prepared_folder : str
        A folder written by
        :func:`~speechbrain_ptssnn.dataprep.prepare.prepare_corpus` (its
        ``fold_<k>/`` manifests).
    destination : str
        The EmoBox corpus folder to write.
    corpus : str
        The corpus name (file names and keys).
    data_folder : str, optional
        The corpus folder the manifests' paths lie under (default: the one
        recorded in ``prepare_options.json``).

    Returns
    -------
    list of str
        The fold folders written.

    Raises
    ------
    FileNotFoundError
        If ``prepared_folder`` has no folds.
    """
    from speechbrain_ptssnn.atomic import write_json, write_text
    from speechbrain_ptssnn.runs import OPTIONS_FILE, read_json

    corpus = corpus.lower()
    folders = fold_folders(prepared_folder)
    if not folders:
        raise FileNotFoundError(f"{prepared_folder} has no prepared fold (fold_<k>/)")
    if data_folder is None:
        recorded = read_json(os.path.join(prepared_folder, OPTIONS_FILE)) or {}
        data_folder = (
            (recorded.get("options") or {}).get("data_folder") or recorded.get("data_folder")
        )
    classes = set()
    written = []
    for folder in folders:
        k = fold_number(folder)
        manifests = {split: read_manifest(os.path.join(folder, f"{split}.json"), data_folder)
                     for split in SPLITS}
        parts = {"train": {**manifests["train"], **manifests["valid"]}, "test": manifests["test"]}
        out = os.path.join(destination, f"fold_{k}")
        for split, entries in parts.items():
            converted = {
                f"{corpus}-{utt_id}": _emobox_entry(entry, corpus, data_folder)
                for utt_id, entry in sorted(entries.items())
            }
            classes.update(entry["emo"] for entry in converted.values())
            base = os.path.join(out, f"{corpus}_{split}_fold_{k}")
            write_json(base + ".json", converted)
            write_text(base + ".jsonl", "".join(
                json.dumps({"key": key, "dataset": corpus, "type": "raw", "task": "category",
                            **entry}, ensure_ascii=False) + "\n"
                for key, entry in converted.items()
            ))
        written.append(out)
    label_map = {emo: emo.capitalize() for emo in EMOTIONS if emo in classes}
    write_json(os.path.join(destination, "label_map.json"), label_map)
    return written


def _emobox_entry(entry, corpus, data_folder):
    wav = entry["wav"]
    if data_folder and os.path.commonpath([os.path.abspath(wav), os.path.abspath(data_folder)]) \
            == os.path.abspath(data_folder):
        wav = os.path.relpath(wav, data_folder)
    else:
        wav = os.path.basename(wav)
    return {
        "wav": f"downloads/{corpus}/" + wav.replace(os.sep, "/"),
        "length": entry["duration"],
        "emo": entry["emo"],
        "dataset": corpus,
        "channel": 1,
    }
