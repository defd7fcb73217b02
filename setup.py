"""Installation script of speechbrain-ptssnn."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

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
    extras_require={"test": ["pytest>=8"]},
    entry_points={
        "console_scripts": ["ptssnn-classify=speechbrain_ptssnn.inference.cli:main"],
    },
)
