"""Miniature corpora in each corpus's real layout, written by the tests.

Short generated noise files at the corpora's real sample rates and channel
counts; shared by the data-preparation and recipe tests.
"""

import numpy
import soundfile


def write_audio(path, frames=800, rate=16000, channels=1):
    """Writes a short noise file (16-bit PCM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    signal = numpy.random.default_rng(len(str(path))).uniform(
        -0.1, 0.1, (frames, channels)
    )
    soundfile.write(path, signal, rate)


def build_emodb(root):
    """4 speakers x 7 emotions x 3 texts, at 16, 22.05 and 44.1 kHz."""
    rates = [16000, 22050, 44100]
    for s, speaker in enumerate(["03", "08", "09", "10"]):
        for e, letter in enumerate("WLEAFTN"):
            for t, text in enumerate(["a01", "b02", "a05"]):
                rate = rates[(s + e + t) % 3]
                write_audio(
                    root / "wav" / f"{speaker}{text}{letter}a.wav", rate // 20, rate
                )
    return root


def build_emovo(root):
    """6 actors x 7 emotions x 2 sentences at 48 kHz, mono and stereo."""
    for a, actor in enumerate(["f1", "f2", "f3", "m1", "m2", "m3"]):
        for e, code in enumerate(["dis", "gio", "neu", "pau", "rab", "sor", "tri"]):
            for sentence in ["b1", "l2"]:
                channels = 1 + (a + e) % 2
                write_audio(
                    root / actor / f"{code}-{actor}-{sentence}.wav",
                    2400,
                    48000,
                    channels,
                )
    return root


URDU_FILES = {
    "Angry": [("SM1", 6), ("SM4", 6)],
    "Happy": [("SF1", 6), ("SM3", 4)],
    "Neutral": [("SM3", 4), ("SM5", 6)],
    "Sad": [("SM24", 6), ("SF10", 4)],
}


def build_urdu(root):
    """42 files, 7 speakers (M1 and F1 distinct), 44.1 kHz."""
    n = 0
    for folder, speakers in URDU_FILES.items():
        for speaker, count in speakers:
            for _ in range(count):
                n += 1
                name = f"{speaker}_F{n}_{folder[0]}{n:02d}.wav"
                write_audio(root / folder / name, 2205, 44100, 1 + n % 2)
    return root


CASIA_SPEAKERS = ["liuchanhg", "wangzhe", "zhaoquanyin", "ZhaoZuoxiang"]
CASIA_EMOTIONS = ["angry", "fear", "happy", "neutral", "sad", "surprise"]


def build_casia(root):
    """4 speakers x 6 emotions x 3 sentences, plus stray files."""
    for speaker in CASIA_SPEAKERS:
        for emotion in CASIA_EMOTIONS:
            for sentence in [201, 202, 203]:
                write_audio(root / speaker / emotion / f"{sentence}.wav", 800, 16000)
    write_audio(root / "stray.wav")
    write_audio(root / "wangzhe" / "stray.wav")
    (root / "liuchanhg" / "readme.txt").write_text("stray")
    return root


IEMOCAP_CODES = ["neu", "hap", "exc", "ang", "sad", "fru", "xxx", "sur"]
IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
IEMOCAP_ANNOTATORS = "C-E1:\tNeutral;\t()\nA-E2:\tval 3; act 3; dom  3;\t()\n\n"


def build_iemocap(root):
    """5 sessions x 2 dialogs x 8 utterances, one ``MXX0``: 51 of the 4 classes.

    Also an unlabelled file (Session2) and hidden resource forks.
    """
    utterances = {}  # dialog -> [(utt_id, code)]
    for s in range(1, 6):
        for dialog in [f"Ses0{s}F_impro01", f"Ses0{s}M_script01_1"]:
            utterances[dialog] = [
                (f"{dialog}_{'FM'[u % 2]}{u:03d}", code)
                for u, code in enumerate(IEMOCAP_CODES)
            ]
    utterances["Ses03F_impro01"].append(("Ses03F_impro01_MXX0", "ang"))
    for dialog, items in utterances.items():
        session = root / f"Session{dialog[4]}"
        labels = session / "dialog" / "EmoEvaluation"
        (labels / "Categorical").mkdir(parents=True, exist_ok=True)
        text = IEMOCAP_HEADER
        for u, (utt_id, code) in enumerate(items):
            text += f"[{u}.0100 - {u}.9000]\t{utt_id}\t{code}\t[2.5, 3.0, 3.5]\n"
            text += IEMOCAP_ANNOTATORS
            wav = session / "sentences" / "wav" / dialog / f"{utt_id}.wav"
            write_audio(wav, 400 + u, 16000 if u % 3 else 22050)
        (labels / f"{dialog}.txt").write_text(text)
        (labels / f"._{dialog}.txt").write_text("resource fork")
    wavs = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01"
    write_audio(wavs / "._Ses01F_impro01_F000.wav")
    wavs = root / "Session2" / "sentences" / "wav" / "Ses02F_impro01"
    write_audio(wavs / "Ses02F_impro01_F099.wav")
    return root


BUILDERS = {
    "emodb": build_emodb,
    "emovo": build_emovo,
    "urdu": build_urdu,
    "casia": build_casia,
    "iemocap": build_iemocap,
}
