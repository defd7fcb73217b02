"""EMOVO, the Italian emotional speech corpus.

Layout: ``<data_folder>/{f1,f2,f3,m1,m2,m3}/<emotion>-<actor>-<sentence>.wav``
(``f1/dis-f1-b1.wav``); the actor code must agree with its folder and is the
speaker. Emotion codes: rab anger, gio joy, neu neutral, tri sadness, pau
fear, dis disgust, sor surprise. 588 files at 48 kHz, mono and stereo mixed.
"""

import logging
import re

from speechbrain_ptssnn.dataprep.corpus import Corpus, Skipped, Utterance
from speechbrain_ptssnn.dataprep.files import (
    require_folder,
    stem,
    subfolders,
    wav_files,
)

logger = logging.getLogger(__name__)

CODES = {
    "rab": "angry",
    "gio": "happy",
    "neu": "neutral",
    "tri": "sad",
    "pau": "fear",
    "dis": "disgust",
    "sor": "surprise",
}
ACTORS = ("f1", "f2", "f3", "m1", "m2", "m3")
NAME = re.compile(r"^([a-z]+)-([fm]\d)-(\w+)$", re.IGNORECASE)


def parse_emovo(data_folder):
    """Finds the labelled utterances of EMOVO.

    Arguments
    ---------
    data_folder : str
        The folder holding the actor folders ``f1`` ... ``m3``.

    Returns
    -------
    utterances : list of Utterance
        Id = file stem, speaker = actor code (lower case).
    skipped : list of Skipped
        ``.wav`` files whose names do not parse, carry an unknown emotion
        code or another actor's code.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` does not exist.
    ValueError
        If it is empty or holds no actor folder.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "f1"))
    >>> for name in ["dis-f1-b1.wav", "xyz-f1-b1.wav"]:
    ...     open(os.path.join(root, "f1", name), "w").close()
    >>> utterances, skipped = parse_emovo(root)
    >>> [(u.utt_id, u.emo, u.spk) for u in utterances]
    [('dis-f1-b1', 'disgust', 'f1')]
    >>> skipped[0].reason
    "unknown emotion code 'xyz'"
    """
    root = require_folder(data_folder, "EMOVO data folder")
    folders = [
        (name, path) for name, path in subfolders(root) if name.lower() in ACTORS
    ]
    if not folders:
        raise ValueError(f"no EMOVO actor folder ({', '.join(ACTORS)}) in {root}")
    missing = sorted(set(ACTORS) - {name.lower() for name, _ in folders})
    if missing:
        logger.warning(
            "EMOVO actor folders missing in %s: %s", root, ", ".join(missing)
        )
    utterances, skipped = [], []
    for folder, folder_path in folders:
        for path in wav_files(folder_path):
            match = NAME.match(stem(path))
            if match is None:
                reason = "name does not follow <emotion>-<actor>-<sentence>.wav"
                skipped.append(Skipped(path, reason))
            elif match.group(1).lower() not in CODES:
                skipped.append(
                    Skipped(path, f"unknown emotion code {match.group(1)!r}")
                )
            elif match.group(2).lower() != folder.lower():
                reason = f"actor {match.group(2)!r} disagrees with folder {folder!r}"
                skipped.append(Skipped(path, reason))
            else:
                emo = CODES[match.group(1).lower()]
                utterances.append(Utterance(stem(path), path, emo, folder.lower()))
    return utterances, skipped


EMOVO = Corpus(
    name="emovo",
    parse=parse_emovo,
    emotions=("angry", "happy", "neutral", "sad", "fear", "disgust", "surprise"),
    default_emotions=(
        "angry",
        "happy",
        "neutral",
        "sad",
        "fear",
        "disgust",
        "surprise",
    ),
    protocol="stratified",
    n_folds=10,
    expected_count=588,
)
