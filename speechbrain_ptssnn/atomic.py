"""Writing result files so that an interruption never leaves half a file."""

import json
import os


def write_json(path, data):
    """Writes ``data`` as indented JSON to ``path`` through a temporary file.

    The file appears complete or not at all (``os.replace`` is atomic), so a
    run killed mid-write never leaves a truncated ``metrics.json`` that a rerun
    would take for a finished fold.

    Arguments
    ---------
    path : str
        The file to write.
    data : object
        Anything ``json.dump`` accepts.

    Example
    -------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
    >>> write_json(path, {"WA": 50.0})
    >>> open(path).read()
    '{\\n  "WA": 50.0\\n}'
    """
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2)
    os.replace(tmp, path)
