"""Cross-corpus manifests: train on one corpus, test on others, on the classes they share.

``--test_corpora=urdu:/path/to/URDU[:/path/to/urdu_features][,emovo:...]``
names the target corpora (:func:`parse_test_corpora`). The classes scored are
those of the training corpus (its ``emotions``) that every target has
(:func:`shared_emotions`, in the shared vocabulary's order). The model is
trained on every utterance of the training corpus of those classes, with a
validation set of whole speakers carved out of it (the checkpoint is chosen on
it), and tested on every utterance of those classes of each target.
:func:`prepare_cross_corpus` writes::

    <output_folder>/cross_corpus/{train,valid}.json         the training corpus
    <output_folder>/cross_corpus/<target>/test.json         each target
    <output_folder>/cross_corpus/cross_corpus_options.json  what they were made with

Preparation is skipped when the options record matches. A model trained on
other options (another class set, say) is never silently reused: with a
checkpoint in ``cross_corpus/save`` and other options, it is an error.
"""

import json
import logging
import os
from collections import Counter
from typing import NamedTuple

from speechbrain_ptssnn.dataprep.audio import audio_duration
from speechbrain_ptssnn.dataprep.corpora import CORPORA, get_corpus
from speechbrain_ptssnn.dataprep.corpus import EMOTIONS
from speechbrain_ptssnn.dataprep.folds import carve_validation
from speechbrain_ptssnn.dataprep.manifest import manifest_entry, write_manifest
from speechbrain_ptssnn.dataprep.prepare import _usable_utterances
from speechbrain_ptssnn.runs import (
    METRICS_FILE,
    PREDICTIONS,
    SAVE_FOLDER,
    cross_corpus_folder,
    cross_corpus_target_folder,
    read_json,
)

logger = logging.getLogger(__name__)

CROSS_CORPUS_OPTIONS = "cross_corpus_options.json"


class CrossCorpusTarget(NamedTuple):
    """A corpus to test on: its name, its folder, and its features folder (``precomputed``).

    Example
    -------
    >>> CrossCorpusTarget("urdu", "/data/urdu", None).name
    'urdu'
    """

    name: str
    data_folder: str
    features_folder: str = None


def parse_test_corpora(value):
    """The targets of ``--test_corpora``.

    Arguments
    ---------
    value : str, list of str or None
        ``name:data_folder[:features_folder]`` items separated by commas (or a
        list of such items).

    Returns
    -------
    list of CrossCorpusTarget
        Absolute folders; empty for None or "".

    Raises
    ------
    ValueError
        For an unknown corpus, an item without a folder, a corpus named twice.

    Example
    -------
    >>> parse_test_corpora("urdu:/data/urdu:/feats/urdu, emovo:/data/emovo")
    ... # doctest: +NORMALIZE_WHITESPACE
    [CrossCorpusTarget(name='urdu', data_folder='/data/urdu', features_folder='/feats/urdu'),
     CrossCorpusTarget(name='emovo', data_folder='/data/emovo', features_folder=None)]
    >>> parse_test_corpora("ravdess:/data/ravdess")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: --test_corpora: unknown corpus 'ravdess';
    choose among iemocap, casia, emodb, emovo, urdu
    """
    if not value:
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    targets = []
    for item in (str(item).strip() for item in items):
        if not item:
            continue
        name, _, rest = item.partition(":")
        name = name.strip().lower()
        if name not in CORPORA:
            raise ValueError(f"--test_corpora: unknown corpus {name!r}; choose among "
                             f"{', '.join(CORPORA)}")
        data_folder, _, features_folder = rest.partition(":")
        if not data_folder.strip():
            raise ValueError(f"--test_corpora: {item!r} has no folder; write "
                             f"{name}:/path/to/{name.upper()}[:/path/to/features]")
        if name in {t.name for t in targets}:
            raise ValueError(f"--test_corpora names {name} twice")
        targets.append(CrossCorpusTarget(
            name, os.path.abspath(os.path.expanduser(data_folder.strip())),
            os.path.abspath(os.path.expanduser(features_folder.strip()))
            if features_folder.strip() else None,
        ))
    return targets


def shared_emotions(emotions, targets):
    """The classes of ``emotions`` that every target corpus has, in vocabulary order.

    Arguments
    ---------
    emotions : list of str
        The training corpus's classes.
    targets : list of CrossCorpusTarget or str
        The target corpora (or their names).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        If fewer than two classes are shared.

    Example
    -------
    >>> shared_emotions(["angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"],
    ...                 ["casia", "emovo"])
    ['angry', 'happy', 'neutral', 'sad', 'fear']
    """
    names = [getattr(t, "name", t) for t in targets]
    shared = [e for e in EMOTIONS if e in emotions
              and all(e in get_corpus(name).emotions for name in names)]
    if len(shared) < 2:
        raise ValueError(
            f"--test_corpora: the training classes ({', '.join(emotions)}) and "
            f"{', '.join(names)} share {len(shared)} class(es) ({', '.join(shared) or 'none'}): "
            "a cross-corpus test needs two or more"
        )
    return shared


def _entries(utterances):
    return {u.utt_id: manifest_entry(u, audio_duration(u.wav)) for u in utterances}


def _counts(utterances):
    counts = Counter(u.emo for u in utterances)
    return ", ".join(f"{emo} {counts[emo]}" for emo in EMOTIONS if counts[emo])


def prepare_cross_corpus(corpus, data_folder, targets, output_folder, emotions,
                         valid_ratio, seed):
    """Writes the cross-corpus manifests (see the module's description).

    Arguments
    ---------
    corpus : str
        The training corpus.
    data_folder : str
        Its folder.
    targets : list of CrossCorpusTarget
        The corpora to test on.
    output_folder : str
        The run's output folder (``cross_corpus/`` goes there).
    emotions : list of str
        The classes shared with every target (:func:`shared_emotions`).
    valid_ratio : float
        Share of the training corpus's speakers held out for validation.
    seed : int
        Seed of that draw.

    Returns
    -------
    dict
        ``folder`` (the cross-corpus folder), ``emotions``, and ``targets``:
        name → its folder.

    Raises
    ------
    ValueError
        If ``cross_corpus/`` holds a model trained on other options, or a
        corpus has no usable utterance of the classes.
    """
    corpus = get_corpus(corpus)
    output_folder = os.path.abspath(output_folder)
    folder = cross_corpus_folder(output_folder)
    os.makedirs(folder, exist_ok=True)
    options = {
        "corpus": corpus.name, "data_folder": os.path.abspath(data_folder),
        "emotions": list(emotions), "valid_ratio": valid_ratio, "seed": seed,
    }
    record_path = os.path.join(folder, CROSS_CORPUS_OPTIONS)
    record = read_json(record_path) or {}
    if record.get("training") != options:
        save = os.path.join(folder, SAVE_FOLDER)
        if record and os.path.isdir(save) and os.listdir(save):
            raise ValueError(
                f"{folder} holds a model trained with {record.get('training')}, not {options}: "
                "remove that folder or choose another --output_folder"
            )
        utterances = _usable_utterances(corpus, data_folder, folder, list(emotions))
        labels = {u.utt_id: u.emo for u in utterances}
        speakers = {u.utt_id: u.spk for u in utterances}
        split = carve_validation(labels, speakers, sorted(labels), "loso", valid_ratio, seed, 1)
        entries = _entries(utterances)
        for name in ("train", "valid"):
            write_manifest(os.path.join(folder, f"{name}.json"),
                           {utt_id: entries[utt_id] for utt_id in split[name]})
        logger.info("cross-corpus: training on %s, %d utterances (%s), validation %d (%d "
                    "speakers)", corpus.name, len(utterances), _counts(utterances),
                    len(split["valid"]), len({speakers[u] for u in split["valid"]}))
        record = {"training": options, "targets": {}}
    for target in targets:
        target_options = {"data_folder": target.data_folder, "emotions": list(emotions)}
        target_folder = cross_corpus_target_folder(output_folder, target.name)
        if record["targets"].get(target.name) != target_options:
            os.makedirs(target_folder, exist_ok=True)
            for stale in (METRICS_FILE, PREDICTIONS):
                if os.path.exists(os.path.join(target_folder, stale)):
                    os.remove(os.path.join(target_folder, stale))
            utterances = _usable_utterances(get_corpus(target.name), target.data_folder,
                                            target_folder, list(emotions))
            write_manifest(os.path.join(target_folder, "test.json"), _entries(utterances))
            logger.info("cross-corpus: testing on %s, %d utterances (%s)", target.name,
                        len(utterances), _counts(utterances))
            record["targets"][target.name] = target_options
    with open(record_path, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2)
    return {
        "folder": folder,
        "emotions": list(emotions),
        "targets": {t.name: cross_corpus_target_folder(output_folder, t.name) for t in targets},
    }
