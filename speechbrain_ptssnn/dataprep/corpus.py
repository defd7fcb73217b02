"""What a corpus parser returns and what the registry knows of a corpus.

Every corpus is described by a :class:`Corpus`: its parser, the emotions it
can provide in the shared vocabulary :data:`EMOTIONS`, the paper's label set
and the paper's fold protocol. A parser walks the corpus's folders and returns
:class:`Utterance` records plus the files it could not interpret, so that the
core can report them instead of dropping them silently.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

EMOTIONS = (
    "angry",
    "happy",
    "neutral",
    "sad",
    "fear",
    "disgust",
    "surprise",
    "boredom",
)
"""The emotion vocabulary shared by all corpora, in label-encoder order."""


class Utterance(NamedTuple):
    """One labelled audio file of a corpus.

    Arguments
    ---------
    utt_id : str
        Identifier, unique within the corpus.
    wav : str
        Absolute path of the original audio file.
    emo : str
        Emotion, one of :data:`EMOTIONS`.
    spk : str
        Speaker identifier.

    Example
    -------
    >>> Utterance("03a01Wa", "/data/emodb/wav/03a01Wa.wav", "angry", "03").spk
    '03'
    """

    utt_id: str
    wav: str
    emo: str
    spk: str


class Skipped(NamedTuple):
    """An audio file a parser found but could not interpret.

    Arguments
    ---------
    path : str
        The file.
    reason : str
        Why it was not used, e.g. the name does not follow the corpus's
        naming scheme.

    Example
    -------
    >>> Skipped("/data/emodb/wav/x.wav", "name does not match SSTTTEV.wav").reason
    'name does not match SSTTTEV.wav'
    """

    path: str
    reason: str


def same_speaker(speaker):
    """The default speaker grouping: every speaker is its own group.

    Arguments
    ---------
    speaker : str
        A speaker identifier.

    Returns
    -------
    str
        ``speaker`` itself.

    Example
    -------
    >>> same_speaker("03")
    '03'
    """
    return speaker


@dataclass(frozen=True)
class Corpus:
    """Registry entry of a corpus: its parser and its default options.

    Arguments
    ---------
    name : str
        Short lower-case name (``"emodb"``).
    parse : callable
        ``parse(data_folder) -> (list of Utterance, list of Skipped)``; raises
        ``FileNotFoundError``/``ValueError`` naming the folder when the layout
        does not match.
    emotions : tuple of str
        Every emotion the corpus provides, in :data:`EMOTIONS` order.
    default_emotions : tuple of str
        The classes used by default (the paper's), in :data:`EMOTIONS` order.
    protocol : str
        Default fold protocol, ``"stratified"`` or ``"loso"``.
    n_folds : int
        Default number of folds.
    expected_count : int
        Number of utterances of ``default_emotions`` in the complete corpus;
        another count is reported as a warning.
    speaker_group : callable
        Maps a speaker to the group that leave-one-speaker-out holds out
        together when there are fewer folds than speakers (IEMOCAP: the
        session). Defaults to every speaker being its own group.

    Example
    -------
    >>> corpus = Corpus("toy", lambda folder: ([], []), ("angry", "sad"),
    ...                 ("angry", "sad"), "stratified", 2, 4)
    >>> corpus.speaker_group("spk1")
    'spk1'
    """

    name: str
    parse: Callable
    emotions: tuple
    default_emotions: tuple
    protocol: str
    n_folds: int
    expected_count: int
    speaker_group: Callable = same_speaker
