"""What a preparation depends on, for the run fingerprint.

:func:`preparation_fingerprint` gives the fold options and the corpus's
content (:func:`corpus_content`: relative paths and sizes of the audio files
used, not the corpus's absolute path) of a preparation by
:func:`speechbrain_ptssnn.dataprep.prepare.prepare_corpus`, without writing
anything.
"""

import hashlib
import json
import os

from speechbrain_ptssnn.dataprep.corpora import get_corpus
from speechbrain_ptssnn.dataprep.folds import DEFAULT_SEED, DEFAULT_VALID_RATIO, FOLD_SPLITTER
from speechbrain_ptssnn.dataprep.selection import resolve_n_folds, select_emotions


def corpus_content(utterances, data_folder):
    """What the audio files of a preparation are: relative paths and sizes, hashed.

    The absolute ``data_folder`` is left out, so a corpus moved (or copied)
    elsewhere has the same content.

    Arguments
    ---------
    utterances : list of Utterance
        The utterances a preparation uses.
    data_folder : str
        The corpus root their paths are relative to.

    Returns
    -------
    dict
        ``files`` (count), ``bytes`` (total size) and ``sha256`` (of the
        sorted ``(relative path, size)`` list).

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_ptssnn.dataprep.corpus import Utterance
    >>> root = tempfile.mkdtemp()
    >>> _ = open(os.path.join(root, "a.wav"), "wb").write(b"1234")
    >>> content = corpus_content([Utterance("a", os.path.join(root, "a.wav"), "sad", "s")], root)
    >>> content["files"], content["bytes"], len(content["sha256"])
    (1, 4, 64)
    """
    files = sorted(
        (os.path.relpath(u.wav, data_folder).replace(os.sep, "/"), os.path.getsize(u.wav))
        for u in utterances
    )
    digest = hashlib.sha256(json.dumps(files).encode()).hexdigest()
    return {"files": len(files), "bytes": sum(size for _, size in files), "sha256": digest}


def preparation_fingerprint(
    corpus,
    data_folder,
    protocol=None,
    n_folds=None,
    valid_ratio=DEFAULT_VALID_RATIO,
    seed=DEFAULT_SEED,
    emotions=None,
    partitions=None,
):
    """What a preparation depends on: its fold options and the corpus's content.

    The corpus is parsed (nothing is written); the options are resolved as
    :func:`~speechbrain_ptssnn.dataprep.prepare.prepare_corpus` resolves them
    (``protocol`` and ``n_folds`` of None become the corpus's defaults), so a
    default given explicitly matches.

    Arguments
    ---------
    corpus, data_folder, protocol, n_folds, valid_ratio, seed, emotions, partitions
        As for :func:`~speechbrain_ptssnn.dataprep.prepare.prepare_corpus` (the
        partitions folder is recorded by its absolute path).

    Returns
    -------
    dict
        ``fold_options`` (``corpus``, ``protocol``, ``n_folds``,
        ``valid_ratio``, ``fold_seed``, ``emotions``, ``splitter``,
        ``partitions``) and
        ``corpus_content`` (:func:`corpus_content`).

    Raises
    ------
    FileNotFoundError, ValueError
        As the corpus's parser, for a folder that is not the corpus.

    Example
    -------
    >>> import os, tempfile, numpy, soundfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "Sad"))
    >>> for k in range(4):
    ...     path = os.path.join(root, "Sad", f"SF{k}_F{k}_S0{k}.wav")
    ...     soundfile.write(path, numpy.zeros(441), 44100)
    >>> found = preparation_fingerprint("urdu", root, n_folds=2)
    >>> found["fold_options"]["n_folds"], found["corpus_content"]["files"]
    (2, 4)
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    data_folder = os.path.abspath(os.fspath(data_folder))
    emotions = select_emotions(corpus, emotions)
    protocol = corpus.protocol if protocol is None else protocol
    utterances, _ = corpus.parse(data_folder)
    kept = [utterance for utterance in utterances if utterance.emo in emotions]
    return {
        "fold_options": {
            "corpus": corpus.name,
            "protocol": protocol,
            "n_folds": resolve_n_folds(corpus, protocol, n_folds, [u.spk for u in kept]),
            "valid_ratio": valid_ratio,
            "fold_seed": seed,
            "emotions": emotions,
            "splitter": FOLD_SPLITTER,
            "partitions": None if partitions is None else os.path.abspath(partitions),
        },
        "corpus_content": corpus_content(kept, data_folder),
    }
