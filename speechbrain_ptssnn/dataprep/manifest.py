"""SpeechBrain JSON manifests.

A manifest maps each utterance id to its fields::

    {"03a01Wa": {"wav": "/abs/path/wav/03a01Wa.wav", "duration": 1.9,
                 "emo": "angry", "spk": "03"}}

``wav`` is the original file's absolute path (audio is never rewritten),
``duration`` is in seconds, ``emo`` comes from the shared vocabulary
:data:`speechbrain_ptssnn.dataprep.corpus.EMOTIONS` and ``spk`` is the speaker.
SpeechBrain reads it with ``DynamicItemDataset.from_json``.
"""

import json

from speechbrain_ptssnn.atomic import write_text


def manifest_entry(utterance, duration):
    """The manifest fields of one utterance.

    Arguments
    ---------
    utterance : speechbrain_ptssnn.dataprep.corpus.Utterance
        The utterance.
    duration : float
        Its duration in seconds.

    Returns
    -------
    dict
        ``{"wav", "duration", "emo", "spk"}``.

    Example
    -------
    >>> from speechbrain_ptssnn.dataprep.corpus import Utterance
    >>> manifest_entry(Utterance("u1", "/data/u1.wav", "sad", "s1"), 1.5)
    {'wav': '/data/u1.wav', 'duration': 1.5, 'emo': 'sad', 'spk': 's1'}
    """
    return {
        "wav": utterance.wav,
        "duration": duration,
        "emo": utterance.emo,
        "spk": utterance.spk,
    }


def write_manifest(path, entries):
    """Writes a manifest atomically, creating its folder.

    Arguments
    ---------
    path : str
        The JSON file to write.
    entries : dict
        Utterance id -> fields (see :func:`manifest_entry`); written sorted
        by id.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "fold_1", "test.json")
    >>> write_manifest(path, {"u1": {"wav": "/data/u1.wav", "duration": 1.5,
    ...                              "emo": "sad", "spk": "s1"}})
    >>> read_manifest(path)["u1"]["emo"]
    'sad'
    """
    text = json.dumps(dict(sorted(entries.items())), indent=2, ensure_ascii=False)
    write_text(path, text + "\n")


def read_manifest(path):
    """Reads a manifest.

    Arguments
    ---------
    path : str
        A JSON manifest.

    Returns
    -------
    dict
        Utterance id -> fields.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "valid.json")
    >>> write_manifest(path, {})
    >>> read_manifest(path)
    {}
    """
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)
