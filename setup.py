"""Installation script of speechbrain-ptssnn."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

EXPORT = [
    "onnx>=1.17",
    "onnxruntime>=1.20",
    "nir>=1.0.7",  # SpikingJelly 2.0's nir_exchange
    "nirtorch>=2.6",
]

setup(
    name="speechbrain-ptssnn",
    version="0.2.0",
    description=(
        "PTS-SNN: a prompt-tuned temporal-shift spiking adapter for speech "
        "emotion recognition, as a SpeechBrain plugin"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    packages=find_packages(include=["speechbrain_ptssnn", "speechbrain_ptssnn.*"]),
    # The export's templates (hyperparams.yaml, model_card.md, custom_interface.py),
    # read through importlib.resources.
    package_data={"speechbrain_ptssnn.export": ["templates/*"]},
    python_requires=">=3.11",
    install_requires=[
        # torchaudio 2.11.x declares torch>=2.11; where pip is capped (this
        # project's machines) that resolves to the torch 2.14.1 build on disk.
        "torch>=2.11",
        "torchaudio>=2.11",
        "speechbrain>=1.1.2",
        "hyperpyyaml>=1.2",
        "ruamel.yaml>=0.18,<0.19",  # the export reads and writes tagged HyperPyYAML with it
        "spikingjelly==2.0.0",
        "funasr>=1.4.16",
        "sentencepiece",
        "soundfile",
        "tqdm",
        "numpy",
        "scikit-learn",  # fold splitters and metrics
        "numba",  # the fused PLIF recurrence (already required by funasr's librosa)
        "matplotlib",
    ],
    extras_require={
        # python -m speechbrain_ptssnn.export --onnx / --nir, and the ONNX backend of inference
        "export": EXPORT,
        "test": ["pytest>=8", "ruff>=0.17", *EXPORT],  # ruff: the lint step of .ci/run
    },
    entry_points={
        "console_scripts": ["ptssnn-classify=speechbrain_ptssnn.inference.cli:main"],
    },
)
