"""Leakage guard: upstreams trained on data that includes the corpora we test on.

The emotion2vec maintainers say (github.com/ddlBoJack/emotion2vec, issue #46)
that **emotion2vec+ seed** was fine-tuned on the academic speech emotion data
of EmoBox (github.com/emo-box/EmoBox), and that **emotion2vec+ base** (and,
per the model cards, **large**) were fine-tuned on large-scale data
pseudo-labelled by emotion2vec+ seed. EmoBox holds the corpora listed in
:data:`EMOBOX_CORPORA` -- IEMOCAP, EMODB, CASIA, EMOVO and URDU among them --
and the maintainers have not published which of their utterances went into
training (emotion2vec issue #77 asks and is unanswered). So a model whose
upstream is ``emotion2vec_plus_*`` may have been tuned, with labels, on the
very test utterances of any of these corpora: its test figures are not a
clean estimate. :func:`upstream_leakage` says when that is the case; the
experiment logs it as a warning and the summary and the model card carry it.

``emotion2vec_base`` (no ``plus``) is a self-supervised model: no emotion
labels went into it (see README, "Which upstreams are clean").
"""

import os

#: The corpus folders of EmoBox's ``data/`` (its 32 corpora), by our names where we have one.
EMOBOX_CORPORA = (
    "aesdd", "ased", "asvpesd", "cafe", "casia", "cremad", "emns", "emodb", "emovdb", "emovo",
    "emozionalmente", "enterface", "esd", "iemocap", "jlcorpus", "m3ed", "mead", "meld",
    "mer2023", "mesd", "msppodcast", "oreau", "pavoque", "polish", "ravdess", "resd", "savee",
    "shemo", "subesco", "tess", "turevdb", "urdu",
)

#: What the summary, the log and the model card say.
LEAKAGE_WARNING = "upstream may have seen test data"

#: Where the claim comes from.
LEAKAGE_SOURCE = (
    "github.com/ddlBoJack/emotion2vec/issues/46 and the emotion2vec README: emotion2vec+ seed "
    "was fine-tuned on EmoBox's academic SER corpora, emotion2vec+ base and large on data "
    "pseudo-labelled by it"
)


def is_emotion2vec_plus(upstream_source):
    """Whether a hub id or local directory names an emotion2vec+ model.

    Example
    -------
    >>> (is_emotion2vec_plus("iic/emotion2vec_plus_base"),
    ...  is_emotion2vec_plus("/models/emotion2vec+large"))
    (True, True)
    >>> is_emotion2vec_plus("iic/emotion2vec_base"), is_emotion2vec_plus(None)
    (False, False)
    """
    if not upstream_source:
        return False
    name = os.path.basename(os.path.normpath(str(upstream_source))).lower().replace("-", "_")
    return name.startswith(("emotion2vec_plus", "emotion2vec+"))


def upstream_leakage(upstream, upstream_source, corpora):
    """The corpora an upstream may have been trained on, of those a run tests on.

    Arguments
    ---------
    upstream : str or object
        The ``upstream`` option (``emotion2vec``, ``precomputed``, ...).
    upstream_source : str or None
        The ``upstream_source`` option (hub id or local directory).
    corpora : iterable of str
        The corpora the run tests on (its own, and its cross-corpus targets).

    Returns
    -------
    dict or None
        None when nothing is known against the upstream; otherwise
        ``{"warning", "upstream_source", "corpora", "source"}``.

    Example
    -------
    >>> upstream_leakage("emotion2vec", "iic/emotion2vec_plus_large", ["emodb", "urdu"])["corpora"]
    ['emodb', 'urdu']
    >>> upstream_leakage("emotion2vec", "iic/emotion2vec_base", ["emodb"]) is None
    True
    """
    if str(upstream).lower() != "emotion2vec" or not is_emotion2vec_plus(upstream_source):
        return None
    seen = sorted({str(c).lower() for c in corpora} & set(EMOBOX_CORPORA))
    if not seen:
        return None
    return {
        "warning": LEAKAGE_WARNING,
        "upstream_source": str(upstream_source),
        "corpora": seen,
        "source": LEAKAGE_SOURCE,
    }


def leakage_sentence(leakage):
    """One sentence for logs, summaries and model cards.

    Example
    -------
    >>> leakage = upstream_leakage("emotion2vec", "iic/emotion2vec_plus_seed", ["urdu"])
    >>> print(leakage_sentence(leakage))  # doctest: +NORMALIZE_WHITESPACE
    upstream may have seen test data: iic/emotion2vec_plus_seed was trained on data that
    includes urdu (github.com/ddlBoJack/emotion2vec/issues/46 and the emotion2vec README:
    emotion2vec+ seed was fine-tuned on EmoBox's academic SER corpora, emotion2vec+ base and
    large on data pseudo-labelled by it)
    """
    return (
        f"{leakage['warning']}: {leakage['upstream_source']} was trained on data that includes "
        f"{', '.join(leakage['corpora'])} ({leakage['source']})"
    )
