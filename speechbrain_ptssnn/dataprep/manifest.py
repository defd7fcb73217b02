"""SpeechBrain JSON manifests.

A manifest maps each utterance id to its fields::

    {"03a01Wa": {"wav": "/abs/path/wav/03a01Wa.wav", "duration": 1.9,
                 "emo": "angry", "spk": "03"}}

``wav`` is the original file's absolute path (audio is never rewritten),
``duration`` is in seconds, ``emo`` comes from the shared vocabulary
:data:`speechbrain_ptssnn.dataprep.corpus.EMOTIONS` and ``spk`` is the speaker.
SpeechBrain reads it with ``DynamicItemDataset.from_json``.

With ``data_root`` given, :func:`write_manifest` writes the paths under that
folder as ``{data_root}/<path relative to it>`` -- SpeechBrain's placeholder,
which ``DynamicItemDataset.from_json(..., replacements={"data_root": DIR})``
and :func:`read_manifest` (``data_root=DIR``) replace -- so a prepared folder
stays valid when the corpus moves.
"""

import json
import os

from speechbrain_ptssnn.atomic import write_text

#: SpeechBrain's placeholder for the corpus root in a manifest's paths
DATA_ROOT = "{data_root}"


def with_placeholder(path, data_root):
    """``path`` as ``{data_root}/...`` when it lies under ``data_root`` (else unchanged).

    Example
    -------
    >>> with_placeholder("/data/emodb/wav/a.wav", "/data/emodb")
    '{data_root}/wav/a.wav'
    >>> with_placeholder("/elsewhere/a.wav", "/data/emodb")
    '/elsewhere/a.wav'
    """
    root = os.path.abspath(data_root)
    if os.path.commonpath([os.path.abspath(path), root]) != root:
        return path
    return DATA_ROOT + "/" + os.path.relpath(path, root).replace(os.sep, "/")


def resolve_placeholder(path, data_root):
    """``path`` with ``{data_root}`` replaced (as SpeechBrain's ``replacements`` do).

    Raises
    ------
    ValueError
        If the path holds the placeholder and no ``data_root`` is given.

    Example
    -------
    >>> resolve_placeholder("{data_root}/wav/a.wav", "/moved/emodb")
    '/moved/emodb/wav/a.wav'
    """
    if DATA_ROOT not in str(path):
        return path
    if not data_root:
        raise ValueError(f"{path} holds {DATA_ROOT}: give the corpus folder (data_folder)")
    return str(path).replace(DATA_ROOT, str(data_root).rstrip("/\\"))


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


def write_manifest(path, entries, data_root=None):
    """Writes a manifest atomically, creating its folder.

    Arguments
    ---------
    path : str
        The JSON file to write.
    entries : dict
        Utterance id -> fields (see :func:`manifest_entry`); written sorted
        by id.
    data_root : str, optional
        The corpus folder: ``wav`` paths under it are written as
        ``{data_root}/...`` (see the module's description).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "fold_1", "test.json")
    >>> write_manifest(path, {"u1": {"wav": "/data/u1.wav", "duration": 1.5,
    ...                              "emo": "sad", "spk": "s1"}})
    >>> read_manifest(path)["u1"]["emo"]
    'sad'
    """
    if data_root is not None:
        entries = {
            utt_id: {**entry, "wav": with_placeholder(entry["wav"], data_root)}
            for utt_id, entry in entries.items()
        }
    text = json.dumps(dict(sorted(entries.items())), indent=2, ensure_ascii=False)
    write_text(path, text + "\n")


def read_manifest(path, data_root=None):
    """Reads a manifest.

    Arguments
    ---------
    path : str
        A JSON manifest.
    data_root : str, optional
        Replaces the ``{data_root}`` placeholder in ``wav`` paths (an error
        if a path holds it and none is given).

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
        entries = json.load(stream)
    for entry in entries.values():
        if isinstance(entry, dict) and DATA_ROOT in str(entry.get("wav", "")):
            entry["wav"] = resolve_placeholder(entry["wav"], data_root)
    return entries
