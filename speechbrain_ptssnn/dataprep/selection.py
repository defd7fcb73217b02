"""What a preparation keeps: its classes and its number of folds.

:func:`select_emotions` resolves the ``emotions`` option of
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_corpus` to the class names,
in label-encoder order; :func:`resolve_n_folds` resolves its ``n_folds``
option (None: the protocol's default).
"""

from speechbrain_ptssnn.dataprep.corpora import get_corpus
from speechbrain_ptssnn.dataprep.corpus import EMOTIONS
from speechbrain_ptssnn.dataprep.folds import DEFAULT_STRATIFIED_FOLDS


def select_emotions(corpus, emotions):
    """The classes a preparation keeps: the requested emotions in vocabulary order.

    Arguments
    ---------
    corpus : str or speechbrain_ptssnn.dataprep.corpus.Corpus
        A corpus name or registry entry.
    emotions : list of str, "all" or None
        None: the corpus's default (the paper's classes); "all": every
        emotion of the corpus.

    Returns
    -------
    list of str
        The class names, in label-encoder order.

    Raises
    ------
    ValueError
        If an emotion is not in the corpus, or none is chosen.

    Example
    -------
    >>> select_emotions("urdu", ["sad", "angry"])
    ['angry', 'sad']
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    if emotions is None:
        return list(corpus.default_emotions)
    if emotions == "all":
        return list(corpus.emotions)
    if isinstance(emotions, str):
        emotions = [emotions]
    if not emotions:
        raise ValueError("choose at least one emotion")
    unknown = sorted(set(emotions) - set(corpus.emotions))
    if unknown:
        raise ValueError(
            f"{corpus.name} has no emotion {', '.join(unknown)}; "
            f"it has {', '.join(corpus.emotions)}"
        )
    return [emo for emo in EMOTIONS if emo in emotions]


def resolve_n_folds(corpus, protocol, n_folds, speakers):
    """``n_folds``, or its default for the protocol when it is None."""
    if n_folds is not None:
        return n_folds
    if protocol == "loso":
        return len({corpus.speaker_group(spk) for spk in speakers})
    if protocol == corpus.protocol:
        return corpus.n_folds
    return DEFAULT_STRATIFIED_FOLDS
