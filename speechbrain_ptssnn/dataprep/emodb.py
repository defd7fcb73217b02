"""EMODB, the Berlin Database of Emotional Speech.

Layout: ``<data_folder>/wav/SSTTTEV.wav`` with a two-digit speaker ``SS``, a
text code ``TTT`` (letter and two digits), an emotion letter ``E`` and a
version letter ``V`` (``03a01Wa.wav``). Ten speakers, 535 files, seven
emotions: W anger, F happiness, N neutral, T sadness, A fear, E disgust,
L boredom. Neither the sample rate nor the length is assumed.
"""

import os
import re

from speechbrain_ptssnn.dataprep.corpus import Corpus, Skipped, Utterance
from speechbrain_ptssnn.dataprep.files import require_folder, stem, wav_files

CODES = {
    "W": "angry",
    "F": "happy",
    "N": "neutral",
    "T": "sad",
    "A": "fear",
    "E": "disgust",
    "L": "boredom",
}
NAME = re.compile(r"^(\d{2})[a-z]\d{2}([A-Z])[a-z]$")


def parse_emodb(data_folder):
    """Finds the labelled utterances of EMODB.

    Arguments
    ---------
    data_folder : str
        The folder holding ``wav/``.

    Returns
    -------
    utterances : list of Utterance
        Id = file stem, speaker = its two digits.
    skipped : list of Skipped
        ``.wav`` files whose names do not follow ``SSTTTEV.wav``.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` or ``<data_folder>/wav`` does not exist.
    ValueError
        If either is empty.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "wav"))
    >>> for name in ["03a01Wa.wav", "notes.wav"]:
    ...     open(os.path.join(root, "wav", name), "w").close()
    >>> utterances, skipped = parse_emodb(root)
    >>> [(u.utt_id, u.emo, u.spk) for u in utterances]
    [('03a01Wa', 'angry', '03')]
    >>> skipped[0].reason
    'name does not follow SSTTTEV.wav (speaker, text, emotion, version)'
    """
    root = require_folder(data_folder, "EMODB data folder")
    wav_folder = require_folder(os.path.join(root, "wav"), "EMODB wav folder")
    utterances, skipped = [], []
    for path in wav_files(wav_folder):
        match = NAME.match(stem(path))
        if match is None:
            reason = (
                "name does not follow SSTTTEV.wav (speaker, text, emotion, version)"
            )
            skipped.append(Skipped(path, reason))
        elif match.group(2) not in CODES:
            skipped.append(Skipped(path, f"unknown emotion letter {match.group(2)!r}"))
        else:
            emo = CODES[match.group(2)]
            utterances.append(Utterance(stem(path), path, emo, match.group(1)))
    return utterances, skipped


EMODB = Corpus(
    name="emodb",
    parse=parse_emodb,
    emotions=("angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"),
    default_emotions=("angry", "happy", "neutral", "sad", "fear", "disgust", "boredom"),
    protocol="stratified",
    n_folds=10,
    expected_count=535,
)
