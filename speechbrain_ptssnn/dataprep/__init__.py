"""Data preparation: corpus parsers, fold protocols and SpeechBrain manifests.

Modules
-------
audio
    Reading audio at 16 kHz mono; durations from file headers.
corpus
    The shared emotion vocabulary and the records parsers return.
files
    Finding a corpus's folders and audio files.
iemocap, casia, emodb, emovo, urdu
    One parser and registry entry per corpus.
corpora
    The registry ``CORPORA`` and ``corpus_defaults``.
folds
    Stratified k-fold and leave-one-speaker-out folds.
manifest
    Reading and writing JSON manifests.
emobox
    EmoBox's published folds and label maps, read and matched to a corpus copy.
emobox_write
    A prepared run's folds written in EmoBox's format.
selection
    ``select_emotions`` and ``resolve_n_folds``: a preparation's classes and folds.
fingerprint
    ``preparation_fingerprint`` and ``corpus_content``: what a preparation depends on.
prepare
    ``prepare_corpus`` and ``prepare_<corpus>``: folders to fold manifests.
cli
    The command line of the recipes' ``<corpus>_prepare.py`` scripts.
"""
