"""Loading emotion2vec through FunASR, guarded: hubs, side effects, weight checks.

FunASR (``funasr.AutoModel``) resolves a hub id or a local directory, downloads
the weights and builds the model, but along the way it reseeds every RNG,
changes torch's thread count, calls ``logging.basicConfig``, prints to stdout,
and skips checkpoint tensors that do not match the architecture without a
word. The helpers here undo the side effects (:func:`preserved_process_state`),
send the printing to the debug log, turn an offline failure into a message
that says how to use a local directory (:func:`build_automodel`), and fail
unless every weight came from the checkpoint (:func:`check_checkpoint_keys`).

FunASR is heavy: it is imported here only inside the functions that need it
(:func:`import_funasr`).
"""

import contextlib
import io
import logging
import os
import random

import numpy as np
import torch

logger = logging.getLogger(__name__)

#: Checkpoint keys whose absence or presence never matters for the features:
#: the data2vec reconstruction decoder (built by FunASR from the config, unused
#: by ``extract_features`` and left out of the published checkpoints) and the
#: data2vec EMA teacher (``_ema``).
IGNORED_KEY_PREFIXES = ("modality_encoders.AUDIO.decoder.", "_ema")

_HUB_ALIASES = {"ms": "ms", "modelscope": "ms", "hf": "hf", "huggingface": "hf"}


def resolve_hub(source, hub):
    """The FunASR hub name (``"ms"`` or ``"hf"``) for a model source.

    Arguments
    ---------
    source : str
        A hub model id or a local directory.
    hub : str, optional
        ``"ms"``/``"modelscope"`` or ``"hf"``/``"huggingface"``; if None, ids
        starting with ``emotion2vec/`` go to Hugging Face, all others to
        ModelScope.

    Returns
    -------
    str
        ``"ms"`` or ``"hf"``.

    Example
    -------
    >>> (resolve_hub("emotion2vec/emotion2vec_base", None),
    ...  resolve_hub("iic/emotion2vec_base", "huggingface"))
    ('hf', 'hf')
    """
    if hub is None:
        return "hf" if source.startswith("emotion2vec/") else "ms"
    if hub not in _HUB_ALIASES:
        raise ValueError(f"hub must be one of {sorted(_HUB_ALIASES)}, got {hub!r}")
    return _HUB_ALIASES[hub]


def looks_like_path(source):
    """Whether ``source`` was meant as a local path rather than a hub id.

    Arguments
    ---------
    source : str
        A model source.

    Returns
    -------
    bool
        True for absolute paths, ``./``, ``../``, ``~``, more than one ``/``,
        or anything that exists on disk.

    Example
    -------
    >>> looks_like_path("iic/emotion2vec_base"), looks_like_path("./models/emotion2vec")
    (False, True)
    """
    return (
        os.path.isabs(source)
        or source.startswith(("./", "../", "~", ".\\"))
        or source.count("/") > 1
        or os.path.exists(source)
    )


def check_model_directory(directory):
    """Fails unless ``directory`` holds a FunASR model (its config and weights).

    Arguments
    ---------
    directory : str
        A local model directory.

    Raises
    ------
    FileNotFoundError
        If it holds neither ``config.yaml`` nor ``configuration.json``, or
        ``config.yaml`` without ``model.pt``.
    """
    has_config = os.path.isfile(os.path.join(directory, "config.yaml"))
    has_json = os.path.isfile(os.path.join(directory, "configuration.json"))
    if not (has_config or has_json):
        raise FileNotFoundError(
            f"{directory} is not an emotion2vec model directory: it holds neither "
            "config.yaml nor configuration.json"
        )
    if has_config and not has_json and not os.path.isfile(os.path.join(directory, "model.pt")):
        raise FileNotFoundError(f"{directory} has config.yaml but no model.pt (the weights)")


@contextlib.contextmanager
def preserved_rng_state():
    """Restores Python, NumPy and torch RNG states (FunASR reseeds them all).

    Example
    -------
    >>> state = torch.get_rng_state()
    >>> with preserved_rng_state():
    ...     _ = torch.manual_seed(123)
    >>> torch.equal(torch.get_rng_state(), state)
    True
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def _preserved_root_logger():
    """Undoes ``logging.basicConfig`` calls (FunASR makes them on import and load)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def preserved_process_state():
    """Undoes AutoModel's global side effects: RNG seeds, thread count, logging.

    Example
    -------
    >>> threads = torch.get_num_threads()
    >>> with preserved_process_state():
    ...     torch.set_num_threads(threads + 1)
    >>> torch.get_num_threads() == threads
    True
    """
    threads = torch.get_num_threads()
    try:
        with _preserved_root_logger(), preserved_rng_state():
            yield
    finally:
        torch.set_num_threads(threads)


def _download_hint(source, hub):
    if hub == "hf":
        command = f"huggingface-cli download {source} --local-dir DIR"
    else:
        command = f"modelscope download --model {source} --local_dir DIR"
    return (
        f"To work offline, download the model on a machine with internet access "
        f"(e.g. `{command}`) and point at the local directory instead: "
        "Emotion2vec(source='DIR') / `upstream_source: DIR` in the hparams "
        "(a directory with config.yaml and model.pt)."
    )


def import_funasr():
    """Imports FunASR, sending what it prints on import to the debug log.

    FunASR's import also configures the root logger; that is undone.
    """
    printed = io.StringIO()
    with _preserved_root_logger(), contextlib.redirect_stdout(printed):
        import funasr  # noqa: F401
        import funasr.models.emotion2vec.model  # noqa: F401
    for line in printed.getvalue().splitlines():
        if line.strip():
            logger.debug("funasr: %s", line)


def _drop_trust_remote_code_notice(record):
    # FunASR logs "trust_remote_code: False" as a root warning on every load.
    return not str(record.msg).startswith("trust_remote_code")


def build_automodel(source, hub, revision, device):
    """``funasr.AutoModel(model=source, hub=hub, disable_update=True)``, guarded.

    Arguments
    ---------
    source : str
        A hub model id or a local model directory.
    hub : str
        ``"ms"`` or ``"hf"`` (see :func:`resolve_hub`).
    revision : str, optional
        Hub revision (FunASR's ``model_revision``); FunASR's default if None.
    device : str
        Where FunASR puts the model.

    Returns
    -------
    funasr.AutoModel
        The loaded model (``.model`` is the network, ``.kwargs`` its settings).

    Raises
    ------
    RuntimeError
        If a hub model could not be downloaded (the message says how to use a
        local directory instead).
    """
    import_funasr()
    from funasr import AutoModel

    kwargs = dict(
        model=source,
        hub=hub,
        disable_update=True,
        device=device,
        ncpu=torch.get_num_threads(),
        disable_pbar=True,
        log_level="WARNING",
    )
    if revision is not None:
        kwargs["model_revision"] = revision
    printed = io.StringIO()
    root = logging.getLogger()
    root.addFilter(_drop_trust_remote_code_notice)
    try:
        with preserved_process_state(), contextlib.redirect_stdout(printed):
            automodel = AutoModel(**kwargs)
    except Exception as error:
        output = printed.getvalue()
        local = os.path.isdir(source)
        if not local and ("is not registered" in str(error) or "Download" in output):
            failure = [line for line in output.splitlines() if line.startswith("Download")]
            reason = f" ({failure[-1].strip()})" if failure else ""
            where = "Hugging Face" if hub == "hf" else "ModelScope"
            raise RuntimeError(
                f"the emotion2vec model '{source}' could not be downloaded from "
                f"{where} (hub='{hub}'){reason}. {_download_hint(source, hub)}"
            ) from error
        raise
    finally:
        root.removeFilter(_drop_trust_remote_code_notice)
        for line in printed.getvalue().splitlines():
            if line.strip():
                # FunASR prints one line per missing key; the key check below
                # reports what matters, so these only go to the debug log.
                logger.debug("funasr: %s", line)
    return automodel


def _load_checkpoint_state(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format checkpoint: no mmap
        state = torch.load(path, map_location="cpu", weights_only=True)
    # The same unwrapping as funasr.train_utils.load_pretrained_model.
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return {
        (k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()
    }


def check_checkpoint_keys(model, checkpoint_path, ignored_key_prefixes):
    """Fails unless every (non-ignored) model weight came from the checkpoint.

    Arguments
    ---------
    model : torch.nn.Module
        The model FunASR built from the config (and loaded the checkpoint into).
    checkpoint_path : str
        The checkpoint it loaded (``model.pt``).
    ignored_key_prefixes : tuple of str
        Keys left out of the check (see :data:`IGNORED_KEY_PREFIXES`).

    Raises
    ------
    RuntimeError
        If the checkpoint does not exist, or keys are missing, unexpected or of
        another shape (the message names them).
    """
    if not checkpoint_path or not os.path.isfile(checkpoint_path):
        raise RuntimeError(
            f"no emotion2vec weights found (checkpoint {checkpoint_path!r} does not "
            "exist); the model would run with random weights"
        )
    ckpt = _load_checkpoint_state(checkpoint_path)
    model_state = model.state_dict()
    ignored = tuple(ignored_key_prefixes)

    def kept(key):
        return not (ignored and key.startswith(ignored))

    missing = sorted(k for k in model_state if kept(k) and k not in ckpt)
    unexpected = sorted(k for k in ckpt if kept(k) and k not in model_state)
    mismatched = sorted(
        f"{k} (checkpoint {tuple(ckpt[k].shape)}, model {tuple(model_state[k].shape)})"
        for k in model_state
        if kept(k) and k in ckpt and torch.is_tensor(ckpt[k])
        and tuple(ckpt[k].shape) != tuple(model_state[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", mismatched),
        ):
            if keys:
                more = f", ... ({len(keys)} in all)" if len(keys) > 20 else ""
                shown = ", ".join(keys[:20]) + more
                parts.append(f"{label}: {shown}")
        raise RuntimeError(
            f"the emotion2vec checkpoint {checkpoint_path} does not match the model "
            f"built from its config ({'; '.join(parts)}). FunASR would have skipped "
            "these silently and left random weights in their place."
        )
