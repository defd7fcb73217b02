"""A fixed, deterministic two-epoch run: the reference that refactoring must reproduce.

Everything about it is fixed: the corpus (EMODB layout, silent audio of fixed
lengths), its precomputed features (seeded, a class-dependent offset so the
model has something to learn), the folds (the recipe's own, from the fold
seed), the adapter's initial weights (``tests/data/reference_run/initial_state.pt``),
ascending batches (no shuffling) and every option. ``python tests/reference_run.py``
rewrites ``initial_state.pt`` and ``expected.json`` (only when training is
meant to change); the test compares a fresh run with them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import soundfile

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "reference_run"
INITIAL_STATE = DATA / "initial_state.pt"
EXPECTED = DATA / "expected.json"
DIM = 16
OVERRIDES = [
    "--upstream=precomputed", f"--input_size={DIM}", "--hidden_sizes=[32, 16]",
    "--bias_hidden_size=4", "--num_prompts=2", "--batch_size=4", "--n_folds=2", "--fold=1",
    "--number_of_epochs=2", "--sorting=ascending", "--lr=0.05", "--seed=7",
    "--readout=membrane", "--attention_gate=True", "--attention_scaled=True",
]


def build_corpus(root):
    """EMODB layout, 4 speakers x 7 emotions x 3 texts; features beside it."""
    wavs, feats = root / "emodb", root / "features"
    for s, speaker in enumerate(["03", "08", "09", "10"]):
        for e, letter in enumerate("WLEAFTN"):
            for t, text in enumerate(["a01", "b02", "a05"]):
                index = (s * 7 + e) * 3 + t
                name = f"{speaker}{text}{letter}a"
                (wavs / "wav").mkdir(parents=True, exist_ok=True)
                frames = 20 + index % 11
                soundfile.write(wavs / "wav" / f"{name}.wav", numpy.zeros(320 * frames), 16000)
                rng = numpy.random.default_rng(index)
                array = rng.normal(size=(frames, DIM)) + 3.0 * numpy.eye(DIM)[e * 2]
                (feats / "wav").mkdir(parents=True, exist_ok=True)
                numpy.save(feats / "wav" / f"{name}.npy", array.astype("float32"))
    return wavs, feats


def run_reference(root, hparams=REPO / "hparams" / "ptssnn_paper.yaml"):
    """Runs the recipe on the fixed corpus; returns (metrics, train log lines, output log)."""
    wavs, feats = build_corpus(root)
    output = root / "run"
    command = [
        sys.executable, str(REPO / "recipes" / "EMODB" / "train.py"), str(hparams),
        f"--data_folder={wavs}", f"--features_folder={feats}", f"--output_folder={output}",
        f"--initial_state={INITIAL_STATE}", *OVERRIDES,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(log[-4000:])
    metrics = json.loads((output / "fold_1" / "metrics.json").read_text())
    lines = (output / "fold_1" / "train_log.txt").read_text().splitlines()
    return metrics, lines, log


def record(root):
    """Writes a fresh initial state and the expected results of a run from it."""
    import torch
    from hyperpyyaml import load_hyperpyyaml

    overrides = {"data_folder": "/nowhere", "corpus": "emodb", "n_classes": 7, "input_size": DIM,
                 "hidden_sizes": [32, 16], "bias_hidden_size": 4, "num_prompts": 2, "seed": 7,
                 "readout": "membrane", "attention_gate": True, "attention_scaled": True}
    with open(REPO / "hparams" / "ptssnn_paper.yaml") as stream:
        adapter = load_hyperpyyaml(stream, overrides)["adapter"]
    DATA.mkdir(parents=True, exist_ok=True)
    torch.save(adapter.state_dict(), INITIAL_STATE)
    metrics, lines, _ = run_reference(Path(root))
    EXPECTED.write_text(json.dumps({"metrics": metrics, "train_log": lines}, indent=2) + "\n")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        record(folder)
    print(EXPECTED.read_text())
