"""Reading a run's options: command-line overrides and hparams, nothing built.

:class:`~speechbrain_ptssnn.experiment.Experiment` checks a run's options
before anything is built or written: :func:`parse_overrides` reads the
command line's overrides, :func:`plain_hparams` the plain values of the hparams
file (every object to build a :class:`Built` marker), and
:func:`default_distributed_backend` picks the distributed backend a CPU run
can use.
"""

import dataclasses
import re

import torch
import yaml
from hyperpyyaml import resolve_references


def default_distributed_backend(run_opts):
    """Chooses gloo for ``torchrun`` when no GPU is there to use nccl.

    SpeechBrain defaults to nccl, which needs one GPU per process; unless
    ``--distributed_backend`` was given, a run without CUDA (or with
    ``--device=cpu``) uses gloo, so ``torchrun`` works on CPU unchanged.

    Arguments
    ---------
    run_opts : dict-like
        SpeechBrain run options, as ``sb.parse_arguments`` returns them.

    Returns
    -------
    dict-like
        The options, with ``distributed_backend`` gloo where chosen (a copy).
    """
    explicit = "distributed_backend" in run_opts.get("overridden_args", ())
    on_cpu = str(run_opts.get("device") or "").startswith("cpu") or not torch.cuda.is_available()
    if not explicit and on_cpu:
        if isinstance(run_opts, dict):
            return dict(run_opts, distributed_backend="gloo")
        overridden = set(run_opts.overridden_args) | {"distributed_backend"}
        return dataclasses.replace(
            run_opts, distributed_backend="gloo", overridden_args=overridden
        )
    return run_opts


class _OverridesLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a float (YAML 1.1 reads a string)."""


_OverridesLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_overrides(overrides):
    """Command-line overrides as a dict (``sb.parse_arguments`` gives YAML text).

    A number written with an exponent and no dot is a number, as in YAML 1.2
    (HyperPyYAML's): ``--lr=1e-3`` is 0.001. A key given twice keeps its last
    value, as on any command line.

    Example
    -------
    >>> parse_overrides("data_folder: /data\\nfold: 2\\nlr: 1e-3\\n")
    {'data_folder': '/data', 'fold': 2, 'lr': 0.001}
    """
    if isinstance(overrides, dict):
        return dict(overrides)
    return yaml.load(overrides or "", Loader=_OverridesLoader) or {}


class Built:
    """Stands for a tagged HyperPyYAML value (``!new:``, ``!name:``, ...) that was not built."""

    def __repr__(self):
        return "Built()"


class _PlainLoader(yaml.SafeLoader):
    """Reads every tagged HyperPyYAML value as a :class:`Built` marker."""


_PlainLoader.add_multi_constructor("!", lambda loader, suffix, node: Built())


def plain_hparams(hparams_file, overrides):
    """The plain values of an hparams file, without building any object.

    References and overrides are resolved as HyperPyYAML does; every tagged
    value (an object to build) reads as a :class:`Built` marker. Nothing is
    instantiated, so nothing is created on disk and no seed is set.

    Arguments
    ---------
    hparams_file : str
        A HyperPyYAML file.
    overrides : dict
        Values replacing the file's.

    Returns
    -------
    dict
        Top-level key → value.

    Example
    -------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "h.yaml")
    >>> _ = open(path, "w").write("a: 1\\nb: !ref <a>/x\\nc: !new:torch.nn.ReLU\\n")
    >>> plain_hparams(path, {"a": 2})
    {'a': 2, 'b': '2/x', 'c': Built()}
    """
    with open(hparams_file, encoding="utf-8") as stream:
        resolved = resolve_references(stream, overrides)
    return yaml.load(resolved, Loader=_PlainLoader) or {}
