"""Preparing a corpus: from its folder to the manifests of every fold.

:func:`prepare_corpus` parses a corpus (see :mod:`speechbrain_ptssnn.dataprep.corpora`),
keeps the requested emotions, reads every file's duration from its header,
makes the folds (see :mod:`speechbrain_ptssnn.dataprep.folds`) and writes::

    <output_folder>/fold_<k>/{train,valid,test}.json  k = 1 ... number of folds
    <output_folder>/prepare_options.json              the options used
    <output_folder>/skipped_files.txt                 files not understood, if any

Audio files are never rewritten: manifests point at the originals, which are
resampled and downmixed when loaded
(:func:`speechbrain_ptssnn.dataprep.audio.load_audio`).

Preparation is skipped when ``prepare_options.json`` records the same options
and every manifest exists. With other options the folds are made again: when
they come out the same (a corpus moved to another folder, say) the manifests
are rewritten in place; otherwise fold folders holding only manifests are
replaced, and fold folders holding results are never touched (a
:class:`~speechbrain_ptssnn.runs.RunMismatchError` names them). Any file whose
name does not parse is listed with the reason in ``skipped_files.txt`` and
counted in a warning; a WAV file shorter than its header says is warned about
(both lengths given); unreadable or empty audio, duplicate utterance ids and a
corpus without usable files are errors.

:func:`preparation_fingerprint` gives what a preparation depends on -- the
fold options and the corpus's content (relative paths and sizes of the audio
files used, not the corpus's absolute path) -- for the run fingerprint; it and
:func:`corpus_content` live in :mod:`speechbrain_ptssnn.dataprep.fingerprint`,
:func:`select_emotions` in :mod:`speechbrain_ptssnn.dataprep.selection`, and
are imported here.
"""

import json
import logging
import os
import shutil
from collections import Counter

from speechbrain_ptssnn.atomic import write_json, write_text
from speechbrain_ptssnn.dataprep.audio import audio_duration, wav_truncation
from speechbrain_ptssnn.dataprep.corpora import get_corpus
from speechbrain_ptssnn.dataprep.emobox import (
    partition_emotions,
    partition_folds,
    partitions_identity,
)
from speechbrain_ptssnn.dataprep.fingerprint import corpus_content, preparation_fingerprint
from speechbrain_ptssnn.dataprep.folds import (
    DEFAULT_SEED,
    DEFAULT_VALID_RATIO,
    FOLD_SPLITTER,
    make_folds,
)
from speechbrain_ptssnn.dataprep.manifest import manifest_entry, read_manifest, write_manifest
from speechbrain_ptssnn.dataprep.selection import resolve_n_folds, select_emotions
from speechbrain_ptssnn.runs import (
    OPTIONS_FILE,
    SKIPPED_FILE,
    SPLITS,
    RunMismatchError,
    fold_folder,
    fold_folders,
    read_json,
    run_results,
)

__all__ = [
    "SPLITS",
    "corpus_content",
    "preparation_fingerprint",
    "prepare_casia",
    "prepare_corpus",
    "prepare_emodb",
    "prepare_emovo",
    "prepare_iemocap",
    "prepare_urdu",
    "select_emotions",
]

logger = logging.getLogger(__name__)



def _is_prepared(output_folder, options):
    """Whether the output folder holds every manifest made with ``options``."""
    try:
        with open(
            os.path.join(output_folder, OPTIONS_FILE), encoding="utf-8"
        ) as stream:
            recorded = json.load(stream)
    except (OSError, ValueError):
        return False
    if recorded.get("options") != options:
        return False
    n_folds = recorded.get("folds", 0)
    return n_folds > 0 and all(
        os.path.isfile(os.path.join(output_folder, f"fold_{k}", f"{split}.json"))
        for k in range(1, n_folds + 1)
        for split in SPLITS
    )


def _report_skipped(output_folder, skipped, corpus_name):
    """Lists the skipped files in the output folder and warns about them."""
    path = os.path.join(output_folder, SKIPPED_FILE)
    if not skipped:
        if os.path.exists(path):
            os.remove(path)
        return
    write_text(path, "".join(f"{item.path}\t{item.reason}\n" for item in skipped))
    logger.warning(
        "%s: skipped %d audio files that could not be interpreted; see %s",
        corpus_name,
        len(skipped),
        path,
    )


def _usable_utterances(corpus, data_folder, output_folder, emotions):
    """Parses the corpus and keeps the utterances of the requested emotions."""
    utterances, skipped = corpus.parse(data_folder)
    _report_skipped(output_folder, skipped, corpus.name)
    if not utterances:
        raise ValueError(f"no usable {corpus.name} audio file found in {data_folder}")
    first_path = {}
    for utterance in utterances:
        if utterance.utt_id in first_path:
            raise ValueError(
                f"duplicate utterance id {utterance.utt_id!r}: "
                f"{first_path[utterance.utt_id]} and {utterance.wav}"
            )
        first_path[utterance.utt_id] = utterance.wav
    kept = [utterance for utterance in utterances if utterance.emo in emotions]
    if not kept:
        raise ValueError(
            f"no {corpus.name} utterance of {', '.join(emotions)} in {data_folder}"
        )
    left_out = Counter(u.emo for u in utterances if u.emo not in emotions)
    if left_out:
        logger.info(
            "%s: left out %s (emotions not requested)",
            corpus.name,
            ", ".join(f"{n} {emo}" for emo, n in sorted(left_out.items())),
        )
    if (
        tuple(emotions) == corpus.default_emotions
        and len(kept) != corpus.expected_count
    ):
        logger.warning(
            "%s: found %d utterances of %s in %s; the complete corpus has %d",
            corpus.name,
            len(kept),
            ", ".join(emotions),
            data_folder,
            corpus.expected_count,
        )
    counts = Counter(utterance.emo for utterance in kept)
    logger.info(
        "%s: %d utterances, %d speakers (%s)",
        corpus.name,
        len(kept),
        len({utterance.spk for utterance in kept}),
        ", ".join(f"{emo} {counts[emo]}" for emo in emotions),
    )
    return kept


def _durations(utterances):
    """Each utterance's duration from its header; truncated WAV files warned about."""
    durations = {}
    for utterance in utterances:
        durations[utterance.utt_id] = audio_duration(utterance.wav)
        truncated = wav_truncation(utterance.wav)
        if truncated is not None:
            declared, held, rate = truncated
            logger.warning(
                "%s is truncated: its header says %d samples (%.3f s) but the file holds "
                "only %d (%.3f s); it is used as the %.3f s it holds",
                utterance.wav, declared, declared / rate, held, held / rate, held / rate,
            )
    return durations


def _same_folds(output_folder, folds):
    """Whether the fold folders hold exactly ``folds`` (same utterances in every split)."""
    folders = fold_folders(output_folder)
    if len(folders) != len(folds):
        return False
    for k, fold in enumerate(folds, start=1):
        for split in SPLITS:
            path = os.path.join(fold_folder(output_folder, k), f"{split}.json")
            try:
                if set(read_manifest(path)) != set(fold[split]):
                    return False
            except (OSError, ValueError):
                return False
    return True


def _make_room(output_folder, folds, options):
    """Clears the old folds for new ones, never deleting results.

    Folds that come out the same are kept (their manifests are rewritten);
    other fold folders are removed when they hold manifests only.

    Raises
    ------
    RunMismatchError
        If other folds would replace fold folders holding results.
    """
    if not fold_folders(output_folder) or _same_folds(output_folder, folds):
        return
    results = run_results(output_folder)
    if results:
        recorded = (read_json(os.path.join(output_folder, OPTIONS_FILE)) or {}).get("options", {})
        changed = [
            f"{key}: {json.dumps(recorded.get(key))} → {json.dumps(options[key])}"
            for key in options
            if recorded.get(key) != options[key]
        ]
        more = f" and {len(results) - 3} more" if len(results) > 3 else ""
        shown = ", ".join(results[:3]) + more
        raise RunMismatchError(
            f"{output_folder} holds folds with results ({shown}) that other fold options "
            f"({'; '.join(changed) or 'other folds'}) would replace; nothing was changed. "
            "Prepare into another output folder (a recipe's --overwrite=True moves old "
            "results aside)."
        )
    for folder in fold_folders(output_folder):
        shutil.rmtree(folder)


def prepare_corpus(
    corpus,
    data_folder,
    output_folder,
    protocol=None,
    n_folds=None,
    valid_ratio=DEFAULT_VALID_RATIO,
    seed=DEFAULT_SEED,
    emotions=None,
    skip_prep=False,
    partitions=None,
    data_root_placeholder=False,
):
    """Writes the train/valid/test manifests of every fold of a corpus.

    Arguments
    ---------
    corpus : str or speechbrain_ptssnn.dataprep.corpus.Corpus
        A name of :data:`speechbrain_ptssnn.dataprep.corpora.CORPORA` or a
        registry entry.
    data_folder : str or os.PathLike
        The corpus's root folder, laid out as the corpus's parser describes.
    output_folder : str or os.PathLike
        Where the fold folders, the options record and the skipped-files log
        go.
    protocol : str or None
        ``"stratified"`` or ``"loso"`` (leave one speaker out); None: the
        corpus's default.
    n_folds : int or None
        Number of folds; None: one per speaker group with ``"loso"`` (IEMOCAP:
        per session), the corpus's default (10) with ``"stratified"``.
    valid_ratio : float
        Fraction of each fold's training part used for validation, in [0, 1):
        whole speakers with ``"loso"``, a stratified sample otherwise.
    seed : int
        Seed of every random choice; the same seed gives the same folds.
    emotions : list of str, "all" or None
        The classes to keep; None: the corpus's default (the paper's), "all":
        every emotion the corpus has.
    skip_prep : bool
        If True, do nothing and return the existing fold folders.
    partitions : str, optional
        An EmoBox corpus folder (``EmoBox/data/<corpus>``): its folds
        replace ``protocol`` and ``n_folds`` (see
        :mod:`speechbrain_ptssnn.dataprep.emobox`); ``emotions`` defaults to
        its label map's classes.
    data_root_placeholder : bool
        If True, the manifests' paths are written as ``{data_root}/...``
        (SpeechBrain's placeholder for ``data_folder``), so the prepared folder
        stays valid when the corpus moves.

    Returns
    -------
    list of str
        Absolute paths of ``<output_folder>/fold_1``, ``fold_2``, ...

    Raises
    ------
    FileNotFoundError
        If a folder of the expected layout is missing (the message names it).
    ValueError
        If the layout does not match, an audio file is unreadable or empty,
        two files share an utterance id, no usable file is found, or the
        options cannot be met; the message names the file or folder.
    RunMismatchError
        If other folds would replace fold folders that hold results (nothing
        is changed then).

    Example
    -------
    >>> import os, tempfile, numpy, soundfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "Sad"))
    >>> for k in range(4):
    ...     path = os.path.join(root, "Sad", f"SF{k}_F{k}_S0{k}.wav")
    ...     soundfile.write(path, numpy.zeros(4410), 44100)
    >>> folds = prepare_corpus("urdu", root, os.path.join(root, "out"), n_folds=2)
    >>> [os.path.basename(folder) for folder in folds]
    ['fold_1', 'fold_2']
    >>> from speechbrain_ptssnn.dataprep.manifest import read_manifest
    >>> test = read_manifest(os.path.join(folds[0], "test.json"))
    >>> sorted(test["SF0_F0_S00"])
    ['duration', 'emo', 'spk', 'wav']
    """
    corpus = get_corpus(corpus) if isinstance(corpus, str) else corpus
    data_folder = os.path.abspath(os.fspath(data_folder))
    output_folder = os.path.abspath(os.fspath(output_folder))
    if partitions is not None and emotions is None:
        emotions = partition_emotions(partitions)
    emotions = select_emotions(corpus, emotions)
    protocol = corpus.protocol if protocol is None else protocol
    options = {
        "corpus": corpus.name,
        "data_folder": data_folder,
        "protocol": protocol,
        "n_folds": n_folds,
        "valid_ratio": valid_ratio,
        "seed": seed,
        "emotions": emotions,
        "splitter": FOLD_SPLITTER,
    }
    # recorded only when given, so that folders prepared before stay prepared
    if partitions is not None:
        identity = partitions_identity(partitions)
        options.update(protocol="emobox", n_folds=identity["folds"], partitions=identity)
    if data_root_placeholder:  # the folds follow data_folder: a moved corpus keeps them
        options["data_root_placeholder"] = True
        del options["data_folder"]
    if skip_prep:
        return fold_folders(output_folder)
    if _is_prepared(output_folder, options):
        logger.info("%s: %s already prepared, skipping", corpus.name, output_folder)
        return fold_folders(output_folder)
    os.makedirs(output_folder, exist_ok=True)
    utterances = _usable_utterances(corpus, data_folder, output_folder, emotions)
    by_id = {utterance.utt_id: utterance for utterance in utterances}
    durations = _durations(utterances)
    speakers = {utt_id: u.spk for utt_id, u in by_id.items()}
    record = {"options": options}
    if partitions is not None:
        folds, report = partition_folds(partitions, by_id, valid_ratio, seed)
        record["emobox"] = {"speaker_independent": report["speaker_independent"],
                            "missing": len(report["missing"])}
    else:
        folds = make_folds(
            {utt_id: u.emo for utt_id, u in by_id.items()},
            speakers,
            protocol,
            resolve_n_folds(corpus, protocol, n_folds, speakers.values()),
            valid_ratio,
            seed,
            corpus.speaker_group,
        )
    _make_room(output_folder, folds, options)
    for k, fold in enumerate(folds, start=1):
        for split in SPLITS:
            entries = {
                utt_id: manifest_entry(by_id[utt_id], durations[utt_id])
                for utt_id in fold[split]
            }
            write_manifest(
                os.path.join(output_folder, f"fold_{k}", f"{split}.json"), entries,
                data_root=data_folder if data_root_placeholder else None,
            )
    write_json(
        os.path.join(output_folder, OPTIONS_FILE),
        {**record, "folds": len(folds), "data_folder": data_folder},
    )
    logger.info(
        "%s: wrote %d folds (%s) to %s",
        corpus.name,
        len(folds),
        options["protocol"],
        output_folder,
    )
    return fold_folders(output_folder)


def _corpus_preparer(name):
    """``prepare_<name>``: :func:`prepare_corpus` for one corpus of the registry."""
    corpus = get_corpus(name)

    def prepare(
        data_folder,
        output_folder,
        protocol=None,
        n_folds=None,
        valid_ratio=DEFAULT_VALID_RATIO,
        seed=DEFAULT_SEED,
        emotions=None,
        skip_prep=False,
        partitions=None,
        data_root_placeholder=False,
    ):
        return prepare_corpus(
            name, data_folder, output_folder, protocol, n_folds, valid_ratio, seed, emotions,
            skip_prep, partitions, data_root_placeholder,
        )

    folds = "leaving one speaker group out" if corpus.protocol == "loso" else "stratified"
    prepare.__name__ = prepare.__qualname__ = f"prepare_{name}"
    prepare.__doc__ = f"""Prepares {name.upper()}: by default {", ".join(corpus.default_emotions)};
    {corpus.n_folds} folds, {folds}.

    The arguments are those of :func:`prepare_corpus` after its first;
    :mod:`speechbrain_ptssnn.dataprep.{name}` describes the layout
    ``data_folder`` must have.

    Returns
    -------
    list of str
        The fold folders.
    """
    return prepare


prepare_iemocap = _corpus_preparer("iemocap")
prepare_casia = _corpus_preparer("casia")
prepare_emodb = _corpus_preparer("emodb")
prepare_emovo = _corpus_preparer("emovo")
prepare_urdu = _corpus_preparer("urdu")
