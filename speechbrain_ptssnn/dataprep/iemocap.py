"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database.

Layout: ``<data_folder>/Session<n>/sentences/wav/<dialog>/<utterance>.wav``,
labels in ``Session<n>/dialog/EmoEvaluation/*.txt``: among the annotators'
lines, one summary line per utterance,
``[start - end]<TAB><utterance><TAB><code><TAB>[V, A, D]``.

Codes ang, hap and exc (merged), neu, sad, fea, dis and sur map onto the
shared vocabulary; the others (fru, oth, xxx) are not emotions of the
vocabulary and their utterances are left out. The paper's four classes give
5,531 utterances.

Each session is a dialog between one woman and one man; an utterance's
speaker is its session plus the gender letter that starts the last field of
its id (``Ses01F_impro01_M013`` is spoken by ``"Ses01M"``), and the session
is the speaker group that leave-one-speaker-out holds out together.
"""

import logging
import os
import re
from collections import Counter

from speechbrain_ptssnn.dataprep.corpus import Corpus, Skipped, Utterance
from speechbrain_ptssnn.dataprep.files import (
    require_folder,
    stem,
    subfolders,
    wav_files,
)

logger = logging.getLogger(__name__)

CODES = {
    "ang": "angry",
    "hap": "happy",
    "exc": "happy",
    "neu": "neutral",
    "sad": "sad",
    "fea": "fear",
    "dis": "disgust",
    "sur": "surprise",
}
SESSION = re.compile(r"^Session\d+$", re.IGNORECASE)
SUMMARY = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(\S+)\s+(\S+)\s+\[")
UTTERANCE = re.compile(r"^(Ses\d+)[FM]_\S*_([FM])[^_]*$")


def iemocap_speaker(utt_id):
    """The speaker of an IEMOCAP utterance.

    Arguments
    ---------
    utt_id : str
        An utterance id, ``Ses<nn><F|M>_<dialog>_<F|M><nnn>`` (a few
        end in ``XX0`` instead of digits).

    Returns
    -------
    str or None
        Session + gender letter of the last field; None if the id does not
        follow the scheme.

    Example
    -------
    >>> iemocap_speaker("Ses01F_impro01_M013")
    'Ses01M'
    >>> iemocap_speaker("Ses05M_script01_1b_F003")
    'Ses05F'
    >>> iemocap_speaker("Ses03F_impro06_MXX0")
    'Ses03M'
    """
    match = UTTERANCE.match(utt_id)
    return None if match is None else match.group(1) + match.group(2)


def iemocap_session(speaker):
    """The session of an IEMOCAP speaker, its leave-one-out group.

    Arguments
    ---------
    speaker : str
        A speaker from :func:`iemocap_speaker`.

    Returns
    -------
    str
        The session, the speaker without its gender letter.

    Example
    -------
    >>> iemocap_session("Ses01M")
    'Ses01'
    """
    return speaker[:-1]


def read_labels(label_file):
    """Reads the summary lines of one EmoEvaluation file.

    Arguments
    ---------
    label_file : str
        A ``dialog/EmoEvaluation/<dialog>.txt`` file.

    Returns
    -------
    dict
        Utterance id -> emotion code (``"neu"``, ``"exc"``, ...).

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "Ses01F_impro01.txt")
    >>> with open(path, "w") as stream:
    ...     _ = stream.write("[6.2901 - 8.2357]\\tSes01F_impro01_F000\\tneu\\t")
    ...     _ = stream.write("[2.5000, 2.5000, 2.5000]\\n")
    ...     _ = stream.write("C-E2:\\tNeutral;\\t()\\n")
    >>> read_labels(path)
    {'Ses01F_impro01_F000': 'neu'}
    """
    labels = {}
    with open(label_file, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            match = SUMMARY.match(line)
            if match is not None:
                labels[match.group(1)] = match.group(2)
    return labels


def parse_iemocap(data_folder):
    """Finds the labelled utterances of IEMOCAP.

    Arguments
    ---------
    data_folder : str
        The folder holding ``Session1`` ... ``Session5``.

    Returns
    -------
    utterances : list of Utterance
        Utterances whose code maps onto the vocabulary; id = file stem.
    skipped : list of Skipped
        ``.wav`` files without a summary line or whose names do not follow
        the utterance-id scheme.

    Raises
    ------
    FileNotFoundError
        If ``data_folder`` or a session's ``sentences/wav`` or
        ``dialog/EmoEvaluation`` folder does not exist.
    ValueError
        If a folder is empty or ``data_folder`` holds no session folder.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> wavs = os.path.join(root, "Session1", "sentences", "wav", "Ses01F_impro01")
    >>> labels = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    >>> os.makedirs(wavs); os.makedirs(labels)
    >>> with open(os.path.join(labels, "Ses01F_impro01.txt"), "w") as stream:
    ...     _ = stream.write("[1.0 - 2.0]\\tSes01F_impro01_M000\\texc\\t[3, 3, 3]\\n")
    >>> for name in ["Ses01F_impro01_M000.wav", "Ses01F_impro01_F001.wav"]:
    ...     open(os.path.join(wavs, name), "w").close()
    >>> utterances, skipped = parse_iemocap(root)
    >>> [(u.utt_id, u.emo, u.spk) for u in utterances]
    [('Ses01F_impro01_M000', 'happy', 'Ses01M')]
    >>> skipped[0].reason
    'no summary line in dialog/EmoEvaluation'
    """
    root = require_folder(data_folder, "IEMOCAP data folder")
    sessions = [path for name, path in subfolders(root) if SESSION.match(name)]
    if not sessions:
        raise ValueError(f"no IEMOCAP session folder (Session1 ... Session5) in {root}")
    labels, wavs = {}, []
    for session in sessions:
        label_folder = os.path.join(session, "dialog", "EmoEvaluation")
        require_folder(label_folder, "IEMOCAP label folder")
        for label_file in sorted(os.listdir(label_folder)):
            if label_file.endswith(".txt") and not label_file.startswith("."):
                labels.update(read_labels(os.path.join(label_folder, label_file)))
        wav_folder = os.path.join(session, "sentences", "wav")
        wavs.extend(wav_files(require_folder(wav_folder, "IEMOCAP wav folder"), True))
    utterances, skipped, other_codes = [], [], Counter()
    for path in wavs:
        utt_id = stem(path)
        speaker = iemocap_speaker(utt_id)
        if speaker is None:
            reason = "name does not follow Ses<nn><F|M>_<dialog>_<F|M><nnn>.wav"
            skipped.append(Skipped(path, reason))
        elif utt_id not in labels:
            skipped.append(Skipped(path, "no summary line in dialog/EmoEvaluation"))
        elif labels[utt_id] in CODES:
            utterances.append(Utterance(utt_id, path, CODES[labels[utt_id]], speaker))
        else:
            other_codes[labels[utt_id]] += 1
    if other_codes:
        logger.info(
            "IEMOCAP: left out %d utterances with codes outside the vocabulary (%s)",
            sum(other_codes.values()),
            ", ".join(f"{code} {n}" for code, n in sorted(other_codes.items())),
        )
    unheard = sorted(set(labels) - {stem(path) for path in wavs})
    if unheard:
        logger.warning(
            "IEMOCAP: %d labelled utterances have no wav file in %s (first: %s)",
            len(unheard),
            root,
            unheard[0],
        )
    return utterances, skipped


IEMOCAP = Corpus(
    name="iemocap",
    parse=parse_iemocap,
    emotions=("angry", "happy", "neutral", "sad", "fear", "disgust", "surprise"),
    default_emotions=("angry", "happy", "neutral", "sad"),
    protocol="loso",
    n_folds=5,
    expected_count=5531,
    speaker_group=iemocap_session,
)
