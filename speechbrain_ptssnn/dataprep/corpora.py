"""The registry of supported corpora and their default options.

:data:`CORPORA` maps a corpus name to its
:class:`~speechbrain_ptssnn.dataprep.corpus.Corpus` (parser, emotions, the
paper's classes and protocol); recipes read their defaults with
:func:`corpus_defaults`:

- iemocap: angry, happy, neutral, sad; leave one session out, 5 folds.
- casia: angry, happy, neutral, sad; leave one speaker out, 4 folds.
- emodb: its 7 emotions (with boredom); stratified, 10 folds.
- emovo: its 7 emotions (with surprise); stratified, 10 folds.
- urdu: angry, happy, neutral, sad; stratified, 10 folds.
"""

from speechbrain_ptssnn.dataprep.casia import CASIA
from speechbrain_ptssnn.dataprep.emodb import EMODB
from speechbrain_ptssnn.dataprep.emovo import EMOVO
from speechbrain_ptssnn.dataprep.folds import DEFAULT_SEED, DEFAULT_VALID_RATIO
from speechbrain_ptssnn.dataprep.iemocap import IEMOCAP
from speechbrain_ptssnn.dataprep.urdu import URDU

CORPORA = {corpus.name: corpus for corpus in (IEMOCAP, CASIA, EMODB, EMOVO, URDU)}


def get_corpus(name):
    """Looks a corpus up by name.

    Arguments
    ---------
    name : str
        A key of :data:`CORPORA`, in any letter case.

    Returns
    -------
    speechbrain_ptssnn.dataprep.corpus.Corpus
        The registry entry.

    Raises
    ------
    ValueError
        If the corpus is unknown.

    Example
    -------
    >>> get_corpus("EMODB").expected_count
    535
    """
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}"
        ) from None


def corpus_defaults(name):
    """The default preparation options of a corpus, and its label list.

    Arguments
    ---------
    name : str
        A key of :data:`CORPORA`.

    Returns
    -------
    dict
        ``emotions`` (the classes, in label-encoder order), ``protocol``,
        ``n_folds``, ``valid_ratio`` and ``seed``: the arguments
        :func:`speechbrain_ptssnn.dataprep.prepare.prepare_corpus` uses by
        default.

    Example
    -------
    >>> defaults = corpus_defaults("iemocap")
    >>> defaults["emotions"], defaults["protocol"], defaults["n_folds"]
    (['angry', 'happy', 'neutral', 'sad'], 'loso', 5)
    >>> defaults["valid_ratio"], defaults["seed"]
    (0.1, 1234)
    """
    corpus = get_corpus(name)
    return {
        "emotions": list(corpus.default_emotions),
        "protocol": corpus.protocol,
        "n_folds": corpus.n_folds,
        "valid_ratio": DEFAULT_VALID_RATIO,
        "seed": DEFAULT_SEED,
    }
