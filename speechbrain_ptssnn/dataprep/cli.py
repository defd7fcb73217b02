"""The command line shared by the recipes' ``<corpus>_prepare.py`` scripts.

``python recipes/EMODB/emodb_prepare.py --data_folder DIR --output_folder DIR
[--protocol {stratified,loso}] [--n_folds N] [--valid_ratio R] [--seed S]
[--emotions E [E ...] | all] [--partitions EMOBOX_DIR] [--data_root_placeholder]
[--write_partitions DIR]`` prepares the folds and prints their sizes:
``--partitions`` takes EmoBox's folds (``EmoBox/data/<corpus>``),
``--write_partitions`` also writes the folds in EmoBox's format.
"""

import argparse
import logging
import os

from speechbrain_ptssnn.dataprep.corpora import corpus_defaults, get_corpus
from speechbrain_ptssnn.dataprep.emobox_write import write_partitions
from speechbrain_ptssnn.dataprep.folds import PROTOCOLS
from speechbrain_ptssnn.dataprep.manifest import read_manifest
from speechbrain_ptssnn.dataprep.prepare import SPLITS, prepare_corpus


def fold_sizes(folders):
    """The number of utterances of each split of each fold.

    Arguments
    ---------
    folders : list of str
        Fold folders written by
        :func:`speechbrain_ptssnn.dataprep.prepare.prepare_corpus`.

    Returns
    -------
    list of dict
        One ``{"train": n, "valid": n, "test": n}`` per fold.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_ptssnn.dataprep.manifest import write_manifest
    >>> fold = os.path.join(tempfile.mkdtemp(), "fold_1")
    >>> for split, n in [("train", 3), ("valid", 1), ("test", 2)]:
    ...     entries = {str(i): {} for i in range(n)}
    ...     write_manifest(os.path.join(fold, f"{split}.json"), entries)
    >>> fold_sizes([fold])
    [{'train': 3, 'valid': 1, 'test': 2}]
    """
    return [
        {
            split: len(read_manifest(os.path.join(folder, f"{split}.json")))
            for split in SPLITS
        }
        for folder in folders
    ]


def main(corpus_name, argv=None):
    """Parses the command line, prepares the corpus and prints the fold sizes.

    Arguments
    ---------
    corpus_name : str
        A key of :data:`speechbrain_ptssnn.dataprep.corpora.CORPORA`.
    argv : list of str or None
        The arguments; None: ``sys.argv[1:]``.

    Returns
    -------
    list of str
        The fold folders.

    Example
    -------
    >>> import os, tempfile, numpy, soundfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "wav"))
    >>> for name in ["03a01Wa", "03a02Wb", "08a01Na", "08a02Nb"]:
    ...     path = os.path.join(root, "wav", name + ".wav")
    ...     soundfile.write(path, numpy.zeros(800), 16000)
    >>> _ = main("emodb", ["--data_folder", root, "--output_folder",
    ...                    os.path.join(root, "out"), "--n_folds", "2"])
    fold      train  valid   test
    fold_1        1      1      2
    fold_2        1      1      2
    """
    corpus = get_corpus(corpus_name)
    defaults = corpus_defaults(corpus.name)
    parser = argparse.ArgumentParser(
        description=f"Writes the fold manifests of {corpus.name.upper()}."
    )
    parser.add_argument("--data_folder", required=True, help="the corpus's root folder")
    parser.add_argument("--output_folder", required=True, help="where fold_<k>/ go")
    parser.add_argument("--protocol", choices=PROTOCOLS, default=defaults["protocol"])
    parser.add_argument(
        "--n_folds",
        type=int,
        default=None,
        help="default: one per speaker group with loso, "
        f"{defaults['n_folds']} (the paper's) with {defaults['protocol']}",
    )
    parser.add_argument("--valid_ratio", type=float, default=defaults["valid_ratio"])
    parser.add_argument("--seed", type=int, default=defaults["seed"])
    parser.add_argument(
        "--emotions",
        nargs="+",
        default=None,
        help=f"classes to keep, or 'all' (default: {' '.join(defaults['emotions'])}; "
        f"available: {' '.join(corpus.emotions)})",
    )
    parser.add_argument(
        "--partitions", default=None,
        help="an EmoBox corpus folder (EmoBox/data/<corpus>, with fold_<k>/ and label_map.json): "
        "run EmoBox's folds instead of --protocol/--n_folds",
    )
    parser.add_argument(
        "--data_root_placeholder", action="store_true",
        help="write the manifests' paths as {data_root}/... (the folds follow a moved corpus)",
    )
    parser.add_argument(
        "--write_partitions", default=None, metavar="DIR",
        help="also write the folds in EmoBox's format to DIR (DIR/fold_<k>/"
        f"{corpus.name}_{{train,test}}_fold_<k>.json, DIR/label_map.json)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    folders = prepare_corpus(
        corpus,
        args.data_folder,
        args.output_folder,
        protocol=args.protocol,
        n_folds=args.n_folds,
        valid_ratio=args.valid_ratio,
        seed=args.seed,
        emotions="all" if args.emotions == ["all"] else args.emotions,
        partitions=args.partitions,
        data_root_placeholder=args.data_root_placeholder,
    )
    if args.write_partitions:
        write_partitions(args.output_folder, args.write_partitions, corpus.name,
                         data_folder=args.data_folder)
        print(f"wrote the folds in EmoBox's format to {args.write_partitions}")
    print(f"{'fold':<8}" + "".join(f"{split:>7}" for split in SPLITS))
    for folder, sizes in zip(folders, fold_sizes(folders), strict=True):
        name = os.path.basename(folder)
        print(f"{name:<8}" + "".join(f"{sizes[split]:>7}" for split in SPLITS))
    return folders
