"""URDU, emotional speech from Urdu talk shows.

Layout: ``<data_folder>/{Angry,Happy,Neutral,Sad}/S{M,F}<id>_F<n>_<L><k>.wav``
(``Angry/SM1_F10_A010.wav``): gender letter and speaker number, file number,
emotion letter (A, H, N, S, which must agree with the folder) and a running
count. The folder gives the label; the speaker is the gender letter and the
number (``"M1"``), as the numbers of men and women overlap. 400 files.
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

FOLDERS = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}
NAME = re.compile(r"^S([MF])(\d+)_F\d+_([A-Z])\d+$", re.IGNORECASE)


def parse_urdu(data_folder):
    """Finds the labelled utterances of URDU.

    Arguments
    ---------
    data_folder : str
        The folder holding the emotion folders (any letter case).

    Returns
    -------
    utterances : list of Utterance
        Id = file stem, emotion = folder, speaker = gender letter + number.
    skipped : list of Skipped
        ``.wav`` files whose names do not parse or whose emotion letter
        disagrees with their folder.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` does not exist.
    ValueError
        If it is empty or holds no emotion folder.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "Sad"))
    >>> for name in ["SF10_F1_S01.wav", "SF10_F2_A02.wav"]:
    ...     open(os.path.join(root, "Sad", name), "w").close()
    >>> utterances, skipped = parse_urdu(root)
    >>> [(u.utt_id, u.emo, u.spk) for u in utterances]
    [('SF10_F1_S01', 'sad', 'F10')]
    >>> skipped[0].reason
    "emotion letter 'A' disagrees with folder 'Sad'"
    """
    root = require_folder(data_folder, "URDU data folder")
    folders = [
        (name, path) for name, path in subfolders(root) if name.lower() in FOLDERS
    ]
    if not folders:
        raise ValueError(
            f"no URDU emotion folder (Angry, Happy, Neutral, Sad) in {root}"
        )
    missing = sorted(set(FOLDERS) - {name.lower() for name, _ in folders})
    if missing:
        logger.warning(
            "URDU emotion folders missing in %s: %s", root, ", ".join(missing)
        )
    utterances, skipped = [], []
    for folder, folder_path in folders:
        for path in wav_files(folder_path):
            match = NAME.match(stem(path))
            if match is None:
                reason = "name does not follow S<gender><id>_F<n>_<emotion><k>.wav"
                skipped.append(Skipped(path, reason))
            elif match.group(3).upper() != folder[0].upper():
                letter = match.group(3)
                reason = f"emotion letter {letter!r} disagrees with folder {folder!r}"
                skipped.append(Skipped(path, reason))
            else:
                speaker = match.group(1).upper() + match.group(2)
                emo = FOLDERS[folder.lower()]
                utterances.append(Utterance(stem(path), path, emo, speaker))
    return utterances, skipped


URDU = Corpus(
    name="urdu",
    parse=parse_urdu,
    emotions=("angry", "happy", "neutral", "sad"),
    default_emotions=("angry", "happy", "neutral", "sad"),
    protocol="stratified",
    n_folds=10,
    expected_count=400,
)
