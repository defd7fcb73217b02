"""EmoBox partitions read: its published folds and label maps, matched to a corpus copy.

EmoBox (github.com/emo-box/EmoBox) publishes, for each corpus, a folder
``data/<corpus>/`` holding::

    label_map.json                               its labels -> class names
                                                 (EMOVO's is named label_dict.json)
    fold_<k>/<corpus>_train_fold_<k>.json        key -> {"wav", "length", "emo",
    fold_<k>/<corpus>_test_fold_<k>.json                 "dataset", "channel"}
    fold_<k>/<corpus>_valid_fold_<k>.json        (a few corpora: an official validation set)

Some corpora also carry older twins named ``..._fold<k>.json`` (EMODB has both,
with the same content); either is accepted, and twins that disagree are an
error. A ``.jsonl`` (one ``{"key": ..., ...}`` per line) is read when the
``.json`` is missing.

:func:`read_partitions` reads such a folder; :func:`partition_folds` matches
its utterances to a user's copy of the corpus by file name (adding parent
folders where names repeat, as in CASIA's ``<speaker>/<emotion>/<n>.wav``,
case-insensitively) and maps EmoBox's labels onto the shared vocabulary
through its label map (codes such as URDU's ``A/H/N/S`` or EMOVO's ``rab``,
misspellings such as EMODB's ``boredem``, keys in another letter case than the
entries' labels, as EMODB's ``Neutral``). Validation is carved from each
training part as for the project's own folds -- whole speakers when EmoBox's
folds are speaker-independent, a stratified share otherwise -- unless EmoBox
gives a validation set. Writing a prepared run's folds in the same format,
:func:`~speechbrain_ptssnn.dataprep.emobox_write.write_partitions`, lives in
:mod:`speechbrain_ptssnn.dataprep.emobox_write` and is re-exported here.
"""

import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict

from speechbrain_ptssnn.dataprep.corpus import EMOTIONS
from speechbrain_ptssnn.dataprep.emobox_write import write_partitions
from speechbrain_ptssnn.dataprep.folds import carve_validation

__all__ = [
    "CLASS_NAMES",
    "EMOBOX_SPLITS",
    "LABEL_MAP_FILES",
    "map_label",
    "match_by_file_name",
    "partition_emotions",
    "partition_folds",
    "partitions_identity",
    "read_label_map",
    "read_partitions",
    "write_partitions",
]

logger = logging.getLogger(__name__)

LABEL_MAP_FILES = ("label_map.json", "label_dict.json")
EMOBOX_SPLITS = ("train", "valid", "test")

#: EmoBox class names (any case) -> the shared vocabulary
CLASS_NAMES = {
    "angry": "angry", "anger": "angry",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "neutral": "neutral", "neutrality": "neutral",
    "sad": "sad", "sadness": "sad",
    "fear": "fear", "fearful": "fear",
    "disgust": "disgust", "disgusted": "disgust",
    "surprise": "surprise", "surprised": "surprise",
    "boredom": "boredom", "bored": "boredom",
}

_FOLD_FOLDER = re.compile(r"^fold_(\d+)$")


def read_label_map(folder):
    """EmoBox's label map of a corpus folder, onto the shared vocabulary.

    Arguments
    ---------
    folder : str
        An EmoBox corpus folder (holding ``label_map.json`` or ``label_dict.json``).

    Returns
    -------
    dict
        EmoBox label -> emotion of :data:`~speechbrain_ptssnn.dataprep.corpus.EMOTIONS`,
        or None for a class outside it (e.g. ``Calm``).

    Raises
    ------
    FileNotFoundError
        Without a label map.

    Example
    -------
    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "label_map.json"), "w") as f:
    ...     json.dump({"anger": "Angry", "boredem": "Boredom", "Calm": "Calm"}, f)
    >>> read_label_map(folder)
    {'anger': 'angry', 'boredem': 'boredom', 'Calm': None}
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"EmoBox partition folder {folder} does not exist")
    for name in LABEL_MAP_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as stream:
                raw = json.load(stream)
            return {
                code: CLASS_NAMES.get(str(value).strip().lower()) for code, value in raw.items()
            }
    raise FileNotFoundError(
        f"{folder} has no {' or '.join(LABEL_MAP_FILES)}: give an EmoBox corpus folder "
        "(e.g. EmoBox/data/emodb)"
    )


def map_label(label_map, label):
    """One EmoBox label in the shared vocabulary: the map's exact key, else one in another case.

    Raises
    ------
    ValueError
        For a label the map lacks, or matches in two cases with different classes.

    Example
    -------
    >>> label_map = {"anger": "angry", "Neutral": "neutral", "s": "sad", "S": "sad"}
    >>> map_label(label_map, "neutral"), map_label(label_map, "S")
    ('neutral', 'sad')
    """
    if label in label_map:
        return label_map[label]
    matches = {value for code, value in label_map.items() if code.lower() == str(label).lower()}
    if len(matches) == 1:
        return matches.pop()
    if not matches:
        raise ValueError(f"EmoBox label {label!r} is not in the label map ({sorted(label_map)})")
    raise ValueError(f"EmoBox label {label!r} matches label-map keys of different classes")


def _read_entries(path):
    """key -> entry of an EmoBox ``.json`` (a dict) or ``.jsonl`` (one entry with
    ``key`` a line)."""
    with open(path, encoding="utf-8") as stream:
        if path.endswith(".jsonl"):
            entries = {}
            for line in stream:
                if line.strip():
                    entry = json.loads(line)
                    entries[entry.pop("key")] = entry
            return entries
        return json.load(stream)


def _split_file(fold_dir, split, k):
    """The entries of one split of fold ``k`` (None when the split has no file)."""
    found = {}
    for name in sorted(os.listdir(fold_dir)):
        for pattern in (rf"_{split}_fold_{k}\.jsonl?$", rf"_{split}_fold{k}\.jsonl?$"):
            if re.search(pattern, name):
                found[name] = os.path.join(fold_dir, name)
    if not found:
        return None, None
    jsons = {n: p for n, p in found.items() if n.endswith(".json")} or found
    contents = {name: _read_entries(path) for name, path in jsons.items()}
    first = next(iter(contents))
    for name, entries in contents.items():
        if entries != contents[first]:
            raise ValueError(f"{fold_dir}: {first} and {name} hold different {split} sets")
    return contents[first], sorted(jsons)


def read_partitions(folder):
    """Reads EmoBox's folds of one corpus.

    Arguments
    ---------
    folder : str
        An EmoBox corpus folder (``EmoBox/data/<corpus>``).

    Returns
    -------
    dict
        ``label_map`` (see :func:`read_label_map`) and ``folds``: one
        ``{"train": {key: entry}, "test": {...}, "valid": {...} or None}`` per
        fold, in fold order, and ``files`` (the files read).

    Raises
    ------
    FileNotFoundError
        Without a label map, a ``fold_<k>`` folder or a train or test file.
    ValueError
        For folds that are not numbered 1 to K, an utterance in both the train
        and test parts, or twins that disagree.
    """
    folder = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"EmoBox partition folder {folder} does not exist")
    label_map = read_label_map(folder)
    numbers = sorted(
        int(m.group(1)) for m in map(_FOLD_FOLDER.match, os.listdir(folder))
        if m and os.path.isdir(os.path.join(folder, m.group(0)))
    )
    if not numbers:
        raise FileNotFoundError(f"{folder} has no fold_<k>/ folder (an EmoBox corpus folder has)")
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"{folder}: folds {numbers} are not numbered 1 to {len(numbers)}")
    folds, files = [], []
    for k in numbers:
        fold_dir = os.path.join(folder, f"fold_{k}")
        fold = {}
        for split in EMOBOX_SPLITS:
            entries, names = _split_file(fold_dir, split, k)
            if entries is None and split != "valid":
                raise FileNotFoundError(
                    f"{fold_dir} has no <corpus>_{split}_fold_{k}.json (nor ..._fold{k}.json)"
                )
            fold[split] = entries
            files += [os.path.join(fold_dir, name) for name in names or ()]
        both = set(fold["train"]) & set(fold["test"])
        if both:
            raise ValueError(f"{fold_dir}: {len(both)} utterances in train and test, e.g. "
                             f"{sorted(both)[0]}")
        folds.append(fold)
    return {"folder": folder, "label_map": label_map, "folds": folds, "files": files}


def partition_emotions(folder):
    """The classes of EmoBox's label map, in the shared vocabulary's order.

    Example
    -------
    >>> import json, os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "label_map.json"), "w") as f:
    ...     json.dump({"S": "Sad", "A": "Angry", "C": "Calm"}, f)
    >>> partition_emotions(folder)
    ['angry', 'sad']
    """
    classes = set(read_label_map(folder).values())
    return [emo for emo in EMOTIONS if emo in classes]


def partitions_identity(folder):
    """What the preparation records of a partition folder: its path and a hash of its files.

    Example
    -------
    >>> import tempfile
    >>> partitions_identity(tempfile.mkdtemp())  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    FileNotFoundError: ... has no label_map.json or label_dict.json: give an EmoBox corpus
    folder (e.g. EmoBox/data/emodb)
    """
    read = read_partitions(folder)
    digest = hashlib.sha256()
    for name in [*LABEL_MAP_FILES, *read["files"]]:
        path = os.path.join(read["folder"], name)
        if os.path.isfile(path):
            digest.update(os.path.relpath(path, read["folder"]).encode())
            with open(path, "rb") as stream:
                digest.update(stream.read())
    return {"folder": read["folder"], "folds": len(read["folds"]), "sha256": digest.hexdigest()}


def _path_parts(path):
    return [part.lower() for part in re.split(r"[\\/]+", str(path)) if part]


def match_by_file_name(wanted, available):
    """Matches EmoBox's audio paths to the files of a corpus copy.

    A path matches the one file of the copy with the same name (letter case
    ignored); where names repeat, parent folders are compared too, from the
    nearest up, until one file is left.

    Arguments
    ---------
    wanted : dict
        EmoBox key -> its ``wav`` path (any prefix: ``downloads/casia/...``).
    available : dict
        Utterance id -> the absolute path of the user's file.

    Returns
    -------
    matched : dict
        EmoBox key -> utterance id.
    missing : list of str
        EmoBox keys whose file the copy lacks.

    Raises
    ------
    ValueError
        If a path fits several files, or two paths the same file.

    Example
    -------
    >>> available = {"liu-angry-201": "/d/liuchanhg/angry/201.wav",
    ...              "wang-angry-201": "/d/wangzhe/angry/201.wav", "03a01Wa": "/d/wav/03a01Wa.wav"}
    >>> match_by_file_name({"casia-201-wangzhe-angry": "downloads/casia/wangzhe/angry/201.wav",
    ...                     "emodb-03a01Wa": "downloads/emodb/wav/03a01Wa.wav",
    ...                     "emodb-03a01Wb": "downloads/emodb/wav/03a01Wb.wav"}, available)
    ({'casia-201-wangzhe-angry': 'wang-angry-201', 'emodb-03a01Wa': '03a01Wa'}, ['emodb-03a01Wb'])
    """
    by_name = defaultdict(list)
    parts = {utt_id: _path_parts(path) for utt_id, path in available.items()}
    for utt_id, path_parts in parts.items():
        by_name[path_parts[-1]].append(utt_id)
    matched, missing, taken = {}, [], {}
    for key, path in wanted.items():
        want = _path_parts(path)
        candidates = by_name.get(want[-1], [])
        depth = 1
        while len(candidates) > 1 and depth < len(want):
            depth += 1
            candidates = [u for u in candidates if parts[u][-depth:] == want[-depth:]]
        if not candidates:
            missing.append(key)
            continue
        if len(candidates) > 1:
            raise ValueError(f"EmoBox's {path} fits several files: "
                             f"{', '.join(available[u] for u in sorted(candidates))}")
        utt_id = candidates[0]
        if utt_id in taken:
            raise ValueError(f"EmoBox's {wanted[taken[utt_id]]} and {path} are both "
                             f"{available[utt_id]}")
        taken[utt_id] = key
        matched[key] = utt_id
    return matched, sorted(missing)


def _speaker_independent(folds, speakers):
    return all(
        not {speakers[u] for u in fold["test"]}
        & {speakers[u] for u in fold["train"] + fold["valid"]}
        for fold in folds
    )


def partition_folds(folder, utterances, valid_ratio, seed):
    """EmoBox's folds over the utterances of a corpus copy.

    Arguments
    ---------
    folder : str
        An EmoBox corpus folder.
    utterances : dict
        Utterance id -> :class:`~speechbrain_ptssnn.dataprep.corpus.Utterance`
        of the user's copy (those of the classes to keep).
    valid_ratio : float
        Share of each training part for validation (when EmoBox gives none).
    seed : int
        Seed of the validation draw.

    Returns
    -------
    folds : list of dict
        ``{"train", "valid", "test"}`` utterance ids per fold, sorted.
    report : dict
        ``speaker_independent`` (whether no test speaker is in its fold's
        training part), ``missing`` (EmoBox keys of the kept classes not
        found in the copy), ``other_classes`` (EmoBox utterances left out:
        classes not kept) and ``label_disagreements`` (utterances whose EmoBox
        label differs from the copy's parser; the parser's is used).

    Raises
    ------
    ValueError
        If a fold's test or training part matches no utterance.
    """
    read = read_partitions(folder)
    label_map = read["label_map"]
    available = {utt_id: u.wav for utt_id, u in utterances.items()}
    kept_classes = {u.emo for u in utterances.values()}
    folds, missing, other, disagree = [], set(), Counter(), {}
    for k, fold in enumerate(read["folds"], start=1):
        parts = {}
        for split in EMOBOX_SPLITS:
            entries = fold[split]
            if entries is None:
                continue
            kept = {}
            for key, entry in entries.items():
                emo = map_label(label_map, entry["emo"])
                if emo not in kept_classes:
                    other[emo or str(entry["emo"])] += 1
                else:
                    kept[key] = entry
            matched, lost = match_by_file_name({k_: e["wav"] for k_, e in kept.items()}, available)
            missing.update(lost)
            for key, utt_id in matched.items():
                emo = map_label(label_map, kept[key]["emo"])
                if emo != utterances[utt_id].emo:
                    disagree[utt_id] = (emo, utterances[utt_id].emo)
            parts[split] = sorted(matched.values())
        for split in ("train", "test"):
            if not parts[split]:
                raise ValueError(
                    f"fold {k} of {read['folder']}: no utterance of its {split} part was found in "
                    f"the corpus copy (file names such as "
                    f"{next(iter(fold[split].values()))['wav']!r})"
                )
        given = {"train": parts["train"], "valid": parts["valid"]} if "valid" in parts else None
        folds.append({"given": given, **parts})
    speakers = {utt_id: u.spk for utt_id, u in utterances.items()}
    labels = {utt_id: u.emo for utt_id, u in utterances.items()}
    independent = _speaker_independent(
        [{"train": f["train"], "valid": f.get("valid", []), "test": f["test"]} for f in folds],
        speakers,
    )
    protocol = "loso" if independent else "stratified"
    result = []
    for k, fold in enumerate(folds, start=1):
        split = fold["given"] or carve_validation(
            labels, speakers, fold["train"], protocol, valid_ratio, seed, k
        )
        result.append({"train": split["train"], "valid": split["valid"], "test": fold["test"]})
    report = {
        "speaker_independent": independent,
        "missing": sorted(missing),
        "other_classes": dict(sorted((str(k), v) for k, v in other.items())),
        "label_disagreements": {u: list(v) for u, v in sorted(disagree.items())},
    }
    _log_report(read["folder"], len(result), report)
    return result, report


def _log_report(folder, n_folds, report):
    logger.info(
        "EmoBox partitions %s: %d folds, %s", folder, n_folds,
        "speaker-independent (validation by whole speakers)" if report["speaker_independent"]
        else "NOT speaker-independent: test speakers are also in training (stratified validation)",
    )
    if report["missing"]:
        logger.warning(
            "EmoBox partitions %s: %d utterances not found in the corpus copy (e.g. %s); the "
            "folds are EmoBox's without them", folder, len(report["missing"]),
            ", ".join(report["missing"][:3]),
        )
    if report["label_disagreements"]:
        example, (theirs, ours) = next(iter(report["label_disagreements"].items()))
        logger.warning(
            "EmoBox partitions %s: %d utterances labelled otherwise by EmoBox (e.g. %s: %s, "
            "here %s); the corpus's own labels are used", folder,
            len(report["label_disagreements"]), example, theirs, ours,
        )
