"""Fold protocols, built on scikit-learn's splitters.

A fold is a dict ``{"train": [...], "valid": [...], "test": [...]}`` of
utterance ids. Every utterance is in exactly one test set; the validation set
is carved from the rest, the rest of the rest is the training set. Utterances
enter every splitter sorted by id, so the folds depend only on the corpus,
the options and the seed.

``"stratified"``
    Test sets from ``StratifiedKFold(n_folds, shuffle=True)``: every fold
    holds each class's count divided by the number of folds, rounded up or
    down. The validation set is the first part of a ``StratifiedKFold`` of the
    training part into ``round(1 / valid_ratio)`` parts (a share of about
    ``valid_ratio``, classes balanced the same way; fewer parts when no class
    has that many utterances).
``"loso"`` (leave one speaker out)
    Test sets of whole speakers. With as many folds as speaker groups,
    ``LeaveOneGroupOut``: each fold holds out one group; a corpus whose
    speakers form larger groups (IEMOCAP: the two speakers of a session) is
    split by group when the fold count does not exceed the group count, by
    speaker otherwise. With fewer folds than groups,
    ``StratifiedGroupKFold(n_folds)`` packs the groups into folds whose class
    proportions stay close to the corpus's. Test sets do not depend on the
    seed. The validation set is a seeded ``GroupShuffleSplit`` of the
    training part by speaker: ``ceil(valid_ratio * speakers)`` whole
    speakers, at least one, never all of them.
"""

import warnings
from collections import Counter

import numpy as np
from sklearn.model_selection import (
    GroupShuffleSplit,
    KFold,
    LeaveOneGroupOut,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from speechbrain_ptssnn.dataprep.corpus import same_speaker

PROTOCOLS = ("stratified", "loso")
DEFAULT_STRATIFIED_FOLDS = 10
DEFAULT_VALID_RATIO = 0.1
DEFAULT_SEED = 1234
# Recorded with the prepared options: folders made by another fold algorithm
# (the hand-written splitters before 0.2) are prepared again.
FOLD_SPLITTER = "scikit-learn"


def _split(splitter, ids, labels, groups=None):
    """Runs a scikit-learn splitter; returns its test parts as id lists.

    scikit-learn warns when a class has fewer members than parts; the
    parts are still valid (that class is missing from some of them), so the
    warning is not passed on.
    """
    ids = np.asarray(ids)
    y = [labels[utt_id] for utt_id in ids]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        return [sorted(ids[test].tolist()) for _, test in splitter.split(ids, y, groups)]


def held_out_parts(
    labels, speakers, protocol, n_folds, seed=DEFAULT_SEED, speaker_group=same_speaker
):
    """The test set of every fold.

    Arguments
    ---------
    labels : dict
        Utterance id -> class label.
    speakers : dict
        Utterance id -> speaker.
    protocol : str
        ``"stratified"`` or ``"loso"`` (see the module's description).
    n_folds : int
        Number of folds: from 2 to the number of utterances (stratified) or
        of speakers (loso).
    seed : int
        Seed of the stratified shuffle (the loso test sets do not use it).
    speaker_group : callable
        Speaker -> group held out together while ``n_folds`` does not exceed
        the number of groups.

    Returns
    -------
    list of list of str
        ``n_folds`` sorted lists of utterance ids; under ``"loso"`` ordered by
        the first speaker (or group) name they hold.

    Raises
    ------
    ValueError
        If ``n_folds`` is out of range.

    Example
    -------
    >>> labels = {"a1": "angry", "a2": "angry", "s1": "sad", "s2": "sad"}
    >>> folds = held_out_parts(labels, dict.fromkeys(labels, "x"), "stratified", 2)
    >>> [sorted(labels[u] for u in fold) for fold in folds]
    [['angry', 'sad'], ['angry', 'sad']]
    >>> speakers = {"u1": "Ses01F", "u2": "Ses01M", "u3": "Ses02F", "u4": "Ses02M"}
    >>> held_out_parts(dict.fromkeys(speakers, "sad"), speakers, "loso", 2,
    ...           speaker_group=lambda spk: spk[:5])
    [['u1', 'u2'], ['u3', 'u4']]
    """
    ids = sorted(labels)
    if protocol == "stratified":
        if not 2 <= n_folds <= len(ids):
            raise ValueError(
                f"stratified folds need 2 <= n_folds <= {len(ids)} utterances, "
                f"got n_folds={n_folds}"
            )
        largest = max(Counter(labels.values()).values())
        if n_folds > largest:
            raise ValueError(
                f"{n_folds} stratified folds need a class of {n_folds} utterances or more; "
                f"the largest has {largest}: pass n_folds <= {largest}"
            )
        return _split(StratifiedKFold(n_folds, shuffle=True, random_state=seed), ids, labels)
    n_speakers = len(set(speakers.values()))
    if not 2 <= n_folds <= n_speakers:
        raise ValueError(
            f"leave-one-speaker-out needs 2 <= n_folds <= {n_speakers} speakers, "
            f"got n_folds={n_folds}"
        )
    units = [speaker_group(speakers[utt_id]) for utt_id in ids]
    if n_folds > len(set(units)):
        units = [speakers[utt_id] for utt_id in ids]
    unit_of = dict(zip(ids, units))
    if n_folds == len(set(units)):
        splitter = LeaveOneGroupOut()
    else:
        splitter = StratifiedGroupKFold(n_folds)
    folds = _split(splitter, ids, labels, units)
    return sorted(folds, key=lambda fold: min(unit_of[utt_id] for utt_id in fold))


def validation_set(labels, speakers, protocol, valid_ratio, seed):
    """Carves the validation set out of one fold's training part.

    Arguments
    ---------
    labels : dict
        Utterance id -> class label, of the training part only.
    speakers : dict
        Utterance id -> speaker (same keys).
    protocol : str
        ``"stratified"`` (class-balanced utterances) or ``"loso"`` (whole
        speakers).
    valid_ratio : float
        Share to set aside, in (0, 1): of the utterances (one part of
        ``round(1 / valid_ratio)``) or of the speakers.
    seed : int
        Seed of the shuffle.

    Returns
    -------
    list of str
        Sorted utterance ids.

    Raises
    ------
    ValueError
        If a speaker-disjoint split is asked of fewer than two speakers.

    Example
    -------
    >>> labels = {f"{spk}{i}": "sad" for spk in "abcd" for i in range(3)}
    >>> speakers = {utt_id: utt_id[0] for utt_id in labels}
    >>> valid = validation_set(labels, speakers, "loso", 0.25, seed=1)
    >>> len(valid), len({speakers[u] for u in valid})
    (3, 1)
    """
    ids = sorted(labels)
    if protocol == "stratified":
        parts = min(max(2, round(1 / valid_ratio)), len(ids))
        largest = max(Counter(labels.values()).values())
        if largest >= 2:
            splitter = StratifiedKFold(min(parts, largest), shuffle=True, random_state=seed)
        else:  # one utterance per class: nothing to stratify
            splitter = KFold(parts, shuffle=True, random_state=seed)
        return _split(splitter, ids, labels)[0]
    groups = [speakers[utt_id] for utt_id in ids]
    if len(set(groups)) < 2:
        raise ValueError(
            f"a speaker-disjoint split needs two speakers or more, got {sorted(set(groups))}"
        )
    splitter = GroupShuffleSplit(1, test_size=valid_ratio, random_state=seed)
    return _split(splitter, ids, labels, groups)[0]


def make_folds(
    labels,
    speakers,
    protocol,
    n_folds,
    valid_ratio=DEFAULT_VALID_RATIO,
    seed=DEFAULT_SEED,
    speaker_group=same_speaker,
):
    """Makes the train/valid/test splits of every fold.

    Arguments
    ---------
    labels : dict
        Utterance id -> class label.
    speakers : dict
        Utterance id -> speaker (same keys as ``labels``).
    protocol : str
        ``"stratified"`` or ``"loso"`` (see the module's description).
    n_folds : int
        Number of folds.
    valid_ratio : float
        Fraction of each fold's training part set aside for validation, in
        [0, 1); 0 leaves the validation sets empty.
    seed : int
        Seed of every random choice (fold ``k``'s validation draw is seeded
        by ``(seed, k)``).
    speaker_group : callable
        Speaker -> group, for ``"loso"`` (see :func:`held_out_parts`).

    Returns
    -------
    list of dict
        One ``{"train": [...], "valid": [...], "test": [...]}`` per fold, each
        list sorted.

    Raises
    ------
    ValueError
        If the protocol is unknown or the options cannot be met.

    Example
    -------
    >>> labels = {f"{spk}_{emo}": emo for spk in "abc" for emo in ["angry", "sad"]}
    >>> speakers = {utt_id: utt_id[0] for utt_id in labels}
    >>> folds = make_folds(labels, speakers, "loso", 3, valid_ratio=0.1)
    >>> folds[0]["test"]
    ['a_angry', 'a_sad']
    >>> sorted({speakers[u] for u in folds[0]["valid"] + folds[0]["train"]})
    ['b', 'c']
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    if not 0 <= valid_ratio < 1:
        raise ValueError(f"valid_ratio must lie in [0, 1), got {valid_ratio}")
    folds = []
    tests = held_out_parts(labels, speakers, protocol, n_folds, seed, speaker_group)
    for k, test in enumerate(tests, start=1):
        held_out = set(test)
        rest = [utt_id for utt_id in sorted(labels) if utt_id not in held_out]
        folds.append({**carve_validation(labels, speakers, rest, protocol, valid_ratio, seed, k),
                      "test": test})
    return folds


def carve_validation(labels, speakers, training_part, protocol, valid_ratio, seed, fold):
    """Splits one fold's training part into its train and valid sets.

    Arguments
    ---------
    labels, speakers : dict
        Utterance id -> class label and speaker (of the training part at least).
    training_part : list of str
        The utterance ids not held out for the fold's test.
    protocol : str
        ``"stratified"`` (class-balanced utterances) or ``"loso"`` (whole speakers).
    valid_ratio : float
        Share for validation, in [0, 1); 0 leaves the validation set empty.
    seed : int
        Seed of every random choice; fold ``fold``'s draw is seeded by ``(seed, fold)``.
    fold : int
        The fold number (from 1).

    Returns
    -------
    dict
        ``{"train": [...], "valid": [...]}``, sorted.

    Example
    -------
    >>> labels = {f"{spk}{i}": "sad" for spk in "abcd" for i in range(3)}
    >>> speakers = {utt_id: utt_id[0] for utt_id in labels}
    >>> split = carve_validation(labels, speakers, sorted(labels), "loso", 0.25, 1, fold=1)
    >>> len(split["train"]), len({speakers[u] for u in split["valid"]})
    (9, 1)
    """
    rest = sorted(training_part)
    valid = []
    if valid_ratio > 0:
        fold_seed = int(np.random.SeedSequence([seed, fold]).generate_state(1)[0])
        valid = validation_set(
            {utt_id: labels[utt_id] for utt_id in rest},
            {utt_id: speakers[utt_id] for utt_id in rest},
            protocol,
            valid_ratio,
            fold_seed,
        )
    chosen = set(valid)
    return {"train": [utt_id for utt_id in rest if utt_id not in chosen], "valid": valid}
