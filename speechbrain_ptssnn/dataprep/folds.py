"""Fold protocols: stratified k-fold and leave-one-speaker-out.

A fold is a dict ``{"train": [...], "valid": [...], "test": [...]}`` of
utterance ids. Every utterance is in exactly one test set; the validation set
is carved from the rest, the rest of the rest is the training set.

``"stratified"``
    Utterances are shuffled within each class (seeded) and dealt in turn to
    the folds, so every fold holds each class's count divided by the number of
    folds, rounded up or down, and fold sizes differ by one at most. The
    validation set is a stratified sample of the training part of the same
    kind.
``"loso"`` (leave one speaker out)
    Each test set holds whole speakers. With as many folds as speaker groups,
    each fold holds out one group; a corpus whose speakers form larger groups
    (IEMOCAP: the two speakers of a session) is split by group when the fold
    count does not exceed the group count, by speaker otherwise. With fewer
    folds than groups, the groups are packed into the folds, largest first,
    each into the fold with the fewest utterances so far. Test sets do not
    depend on the seed. The validation set is made of whole training speakers
    (seeded choice), as close as possible to the requested fraction of the
    training part, at least one speaker, never all of them.
"""

import random
from collections import Counter, defaultdict

from speechbrain_ptssnn.dataprep.corpus import same_speaker

PROTOCOLS = ("stratified", "loso")
DEFAULT_STRATIFIED_FOLDS = 10
DEFAULT_VALID_RATIO = 0.1
DEFAULT_SEED = 1234


def _class_ordered(labels, seed):
    """Utterance ids sorted by class, shuffled within each class."""
    by_class = defaultdict(list)
    for utt_id in sorted(labels):
        by_class[labels[utt_id]].append(utt_id)
    rng = random.Random(seed)
    ordered = []
    for label in sorted(by_class):
        members = by_class[label]
        rng.shuffle(members)
        ordered.extend(members)
    return ordered


def stratified_folds(labels, n_folds, seed=DEFAULT_SEED):
    """Splits utterances into test sets that keep the class proportions.

    Arguments
    ---------
    labels : dict
        Utterance id -> class label.
    n_folds : int
        Number of folds, from 2 to the number of utterances.
    seed : int
        Seed of the shuffling within each class.

    Returns
    -------
    list of list of str
        ``n_folds`` sorted lists of utterance ids.

    Raises
    ------
    ValueError
        If ``n_folds`` is out of range.

    Example
    -------
    >>> labels = {"a1": "angry", "a2": "angry", "s1": "sad", "s2": "sad"}
    >>> [sorted(labels[u] for u in fold) for fold in stratified_folds(labels, 2)]
    [['angry', 'sad'], ['angry', 'sad']]
    """
    if not 2 <= n_folds <= len(labels):
        raise ValueError(
            f"stratified folds need 2 <= n_folds <= {len(labels)} utterances, "
            f"got n_folds={n_folds}"
        )
    ordered = _class_ordered(labels, seed)
    return [sorted(ordered[k::n_folds]) for k in range(n_folds)]


def stratified_subset(labels, ratio, seed=DEFAULT_SEED):
    """Draws a sample that keeps the class proportions.

    The sample has ``round(ratio * len(labels))`` utterances (at least one);
    each class contributes its proportional share rounded up or down.

    Arguments
    ---------
    labels : dict
        Utterance id -> class label.
    ratio : float
        Fraction to draw, in (0, 1).
    seed : int or str
        Seed of the draw.

    Returns
    -------
    list of str
        Sorted utterance ids.

    Raises
    ------
    ValueError
        If the sample would take every utterance.

    Example
    -------
    >>> labels = {f"a{i}": "angry" for i in range(6)}
    >>> labels.update({f"s{i}": "sad" for i in range(4)})
    >>> sorted(labels[u] for u in stratified_subset(labels, 0.5))
    ['angry', 'angry', 'angry', 'sad', 'sad']
    """
    total = len(labels)
    size = max(1, round(ratio * total))
    if size >= total:
        raise ValueError(
            f"a fraction of {ratio} of {total} utterances leaves none for training"
        )
    ordered = _class_ordered(labels, seed)
    return sorted(ordered[(2 * i + 1) * total // (2 * size)] for i in range(size))


def speaker_folds(speakers, n_folds, speaker_group=same_speaker):
    """Splits utterances into test sets of whole speakers.

    Arguments
    ---------
    speakers : dict
        Utterance id -> speaker.
    n_folds : int
        Number of folds, from 2 to the number of speakers.
    speaker_group : callable
        Speaker -> group held out together while ``n_folds`` does not exceed
        the number of groups (see the module's description).

    Returns
    -------
    list of list of str
        ``n_folds`` sorted lists of utterance ids, ordered by the first
        speaker (or group) name they hold.

    Raises
    ------
    ValueError
        If ``n_folds`` is out of range.

    Example
    -------
    >>> speakers = {"u1": "Ses01F", "u2": "Ses01M", "u3": "Ses02F", "u4": "Ses02M"}
    >>> speaker_folds(speakers, 2, speaker_group=lambda spk: spk[:5])
    [['u1', 'u2'], ['u3', 'u4']]
    >>> speaker_folds(speakers, 4, speaker_group=lambda spk: spk[:5])
    [['u1'], ['u2'], ['u3'], ['u4']]
    """
    groups = {utt_id: speaker_group(spk) for utt_id, spk in speakers.items()}
    n_speakers = len(set(speakers.values()))
    if not 2 <= n_folds <= n_speakers:
        raise ValueError(
            f"leave-one-speaker-out needs 2 <= n_folds <= {n_speakers} speakers, "
            f"got n_folds={n_folds}"
        )
    unit_of = groups if n_folds <= len(set(groups.values())) else speakers
    sizes = Counter(unit_of.values())
    bins = [[] for _ in range(n_folds)]
    totals = [0] * n_folds
    for unit in sorted(sizes, key=lambda unit: (-sizes[unit], unit)):
        k = min(range(n_folds), key=lambda i: (totals[i], i))
        bins[k].append(unit)
        totals[k] += sizes[unit]
    bins.sort(key=min)
    return [
        sorted(utt_id for utt_id, unit in unit_of.items() if unit in units)
        for units in map(set, bins)
    ]


def speaker_subset(speakers, ratio, seed=DEFAULT_SEED):
    """Draws whole speakers holding about a fraction of the utterances.

    Speakers are visited in a seeded random order; each is taken when it
    brings the number of drawn utterances closer to ``ratio`` of the total.
    When no speaker is small enough for that, the smallest one is taken. At
    least one speaker is always left out of the sample.

    Arguments
    ---------
    speakers : dict
        Utterance id -> speaker.
    ratio : float
        Target fraction of utterances, in (0, 1).
    seed : int or str
        Seed of the visiting order.

    Returns
    -------
    list of str
        Sorted utterance ids of the drawn speakers.

    Raises
    ------
    ValueError
        If there are fewer than two speakers.

    Example
    -------
    >>> speakers = {f"{spk}{i}": spk for spk, n in [("a", 8), ("b", 1), ("c", 1)]
    ...             for i in range(n)}
    >>> speaker_subset(speakers, 0.1) in (["b0"], ["c0"])
    True
    """
    sizes = Counter(speakers.values())
    if len(sizes) < 2:
        raise ValueError(
            f"a speaker-disjoint split needs two speakers or more, got {sorted(sizes)}"
        )
    target = ratio * len(speakers)
    order = sorted(sizes)
    random.Random(seed).shuffle(order)
    chosen, total = set(), 0
    for spk in order:
        closer = abs(total + sizes[spk] - target) < abs(total - target)
        if closer and len(chosen) < len(order) - 1:
            chosen.add(spk)
            total += sizes[spk]
    if not chosen:
        chosen.add(min(order, key=lambda spk: sizes[spk]))
    return sorted(utt_id for utt_id, spk in speakers.items() if spk in chosen)


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
        Seed of every random choice.
    speaker_group : callable
        Speaker -> group, for ``"loso"`` (see :func:`speaker_folds`).

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
    if protocol == "stratified":
        tests = stratified_folds(labels, n_folds, seed)
    else:
        tests = speaker_folds(speakers, n_folds, speaker_group)
    folds = []
    for k, test in enumerate(tests, start=1):
        held_out = set(test)
        rest = [utt_id for utt_id in sorted(labels) if utt_id not in held_out]
        valid_seed = f"{seed}-valid-{k}"
        if valid_ratio == 0:
            valid = []
        elif protocol == "stratified":
            valid = stratified_subset(
                {utt_id: labels[utt_id] for utt_id in rest}, valid_ratio, valid_seed
            )
        else:
            valid = speaker_subset(
                {utt_id: speakers[utt_id] for utt_id in rest}, valid_ratio, valid_seed
            )
        chosen = set(valid)
        train = [utt_id for utt_id in rest if utt_id not in chosen]
        folds.append({"train": train, "valid": valid, "test": test})
    return folds
