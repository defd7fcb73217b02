"""Writing files so that an interruption never leaves half a file.

Every file the project writes for later reading (results, cache entries,
exported models) goes through :func:`atomic_path`: the content is written to
a temporary file made by ``tempfile.mkstemp`` in the target's own folder (so
two writers never share it, and the final rename stays on one file system),
then moved over the target with ``os.replace``, which is atomic. A killed
process leaves the old file or the new one, never a truncated one. The file
gets the permissions ``open(path, "w")`` would give it (``mkstemp`` makes its
files readable by their owner only).
"""

import contextlib
import json
import os
import tempfile


def _new_file_mode():
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


#: what a new file's permissions are under this process's umask (read once, at import)
_FILE_MODE = _new_file_mode()


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path to write to; it replaces ``path`` when the block succeeds.

    On an exception the temporary file is removed and ``path`` is left as it
    was. The target's folder is created if needed.

    Arguments
    ---------
    path : str or os.PathLike
        The file to write.

    Yields
    ------
    str
        The temporary file's path (it exists, empty).

    Example
    -------
    >>> import tempfile, torch
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> with atomic_path(path) as tmp:
    ...     torch.save({"w": torch.ones(1)}, tmp)
    >>> torch.load(path)["w"].tolist(), sorted(os.listdir(os.path.dirname(path)))
    ([1.0], ['state.pt'])
    >>> oct(os.stat(path).st_mode & 0o777) == oct(_FILE_MODE)
    True
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(handle)
    try:
        os.chmod(tmp, _FILE_MODE)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "card.md")
    >>> write_text(path, "# model")
    >>> open(path).read()
    '# model'
    """
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        stream.write(text)


def write_json(path, data, **options):
    """Writes ``data`` as indented JSON to ``path`` atomically.

    A run killed mid-write never leaves a truncated ``metrics.json`` that a
    rerun would take for a finished fold.

    Arguments
    ---------
    path : str
        The file to write.
    data : object
        Anything ``json.dump`` accepts.
    **options
        More ``json.dump`` options (``sort_keys``, ``default``, ...).

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
    >>> write_json(path, {"WA": 50.0})
    >>> open(path).read()
    '{\\n  "WA": 50.0\\n}'
    """
    write_text(path, json.dumps(data, indent=2, **options))
