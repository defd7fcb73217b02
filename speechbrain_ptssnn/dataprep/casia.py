"""CASIA, the Chinese emotional speech corpus (public part, 1,200 files).

Layout: ``<data_folder>/<speaker>/<emotion>/<sentence>.wav``
(``liuchanhg/angry/201.wav``): four speakers (liuchanhg, wangzhe,
zhaoquanyin, ZhaoZuoxiang), six emotion folders (angry, fear, happy, neutral,
sad, surprise), sentences 201 to 250. A speaker folder is any folder holding
an emotion folder; files elsewhere are ignored. The paper uses four emotions
(800 files).
"""

import re

from speechbrain_ptssnn.dataprep.corpus import Corpus, Skipped, Utterance
from speechbrain_ptssnn.dataprep.files import (
    require_folder,
    stem,
    subfolders,
    wav_files,
)

FOLDERS = {
    "angry": "angry",
    "fear": "fear",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "surprise": "surprise",
}
SENTENCE = re.compile(r"^\d+$")


def parse_casia(data_folder):
    """Finds the labelled utterances of CASIA.

    Arguments
    ---------
    data_folder : str
        The folder holding the speaker folders.

    Returns
    -------
    utterances : list of Utterance
        Id = ``<speaker>_<emotion>_<sentence>``, speaker = folder name.
    skipped : list of Skipped
        ``.wav`` files of a speaker's non-emotion folders, and files whose
        names are not sentence numbers.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` does not exist.
    ValueError
        If it is empty or holds no speaker folder.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "wangzhe", "Sad"))
    >>> for name in ["201.wav", "201 (copy).wav"]:
    ...     open(os.path.join(root, "wangzhe", "Sad", name), "w").close()
    >>> utterances, skipped = parse_casia(root)
    >>> [(u.utt_id, u.emo, u.spk) for u in utterances]
    [('wangzhe_sad_201', 'sad', 'wangzhe')]
    >>> skipped[0].reason
    'name is not a sentence number (<n>.wav)'
    """
    root = require_folder(data_folder, "CASIA data folder")
    speakers = [
        (name, path)
        for name, path in subfolders(root)
        if any(sub.lower() in FOLDERS for sub, _ in subfolders(path))
    ]
    if not speakers:
        raise ValueError(
            f"no CASIA speaker folder (<speaker>/<emotion>/<sentence>.wav) in {root}"
        )
    utterances, skipped = [], []
    for speaker, speaker_path in speakers:
        for folder, folder_path in subfolders(speaker_path):
            emo = FOLDERS.get(folder.lower())
            for path in wav_files(folder_path):
                if emo is None:
                    skipped.append(Skipped(path, f"{folder!r} is not a CASIA emotion"))
                elif SENTENCE.match(stem(path)) is None:
                    reason = "name is not a sentence number (<n>.wav)"
                    skipped.append(Skipped(path, reason))
                else:
                    utt_id = f"{speaker}_{emo}_{stem(path)}"
                    utterances.append(Utterance(utt_id, path, emo, speaker))
    return utterances, skipped


CASIA = Corpus(
    name="casia",
    parse=parse_casia,
    emotions=("angry", "happy", "neutral", "sad", "fear", "surprise"),
    default_emotions=("angry", "happy", "neutral", "sad"),
    protocol="loso",
    n_folds=4,
    expected_count=800,
)
