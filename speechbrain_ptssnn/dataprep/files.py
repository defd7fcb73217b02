"""Finding a corpus's folders and audio files on disk.

Helpers shared by the corpus parsers. Hidden entries (names starting with a
dot, such as macOS ``._*`` resource forks) are never considered; audio files
are recognised by their ``.wav`` extension in any letter case.
"""

import os


def require_folder(path, description):
    """Checks that a folder exists and holds at least one visible entry.

    Arguments
    ---------
    path : str or os.PathLike
        The folder.
    description : str
        What the folder is, for the error message (``"EMODB wav folder"``).

    Returns
    -------
    str
        The folder's absolute path.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not an existing folder.
    ValueError
        If the folder is empty.

    Example
    -------
    >>> import tempfile
    >>> require_folder(tempfile.mkdtemp(), "data folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data folder is empty: ...
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{description} not found: {path}")
    if not any(not name.startswith(".") for name in os.listdir(path)):
        raise ValueError(f"{description} is empty: {path}")
    return path


def subfolders(folder):
    """The visible subfolders of a folder, sorted by name.

    Arguments
    ---------
    folder : str
        An existing folder.

    Returns
    -------
    list of (str, str)
        ``(name, absolute path)`` of each subfolder.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> for name in ["b", "a", ".hidden"]:
    ...     os.mkdir(os.path.join(root, name))
    >>> [name for name, _ in subfolders(root)]
    ['a', 'b']
    """
    folder = os.path.abspath(folder)
    return [
        (name, os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
        if not name.startswith(".") and os.path.isdir(os.path.join(folder, name))
    ]


def is_wav(name):
    """Whether a file name is a visible ``.wav`` file.

    Arguments
    ---------
    name : str
        A file name.

    Returns
    -------
    bool
        True for ``x.wav`` or ``x.WAV``, false for hidden or other files.

    Example
    -------
    >>> is_wav("03a01Wa.WAV"), is_wav("._03a01Wa.wav"), is_wav("notes.txt")
    (True, False, False)
    """
    return not name.startswith(".") and name.lower().endswith(".wav")


def wav_files(folder, recursive=False):
    """The ``.wav`` files of a folder, sorted by path.

    Arguments
    ---------
    folder : str
        An existing folder.
    recursive : bool
        Whether to descend into visible subfolders.

    Returns
    -------
    list of str
        Absolute paths.

    Example
    -------
    >>> import os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "sub"))
    >>> for name in ["b.wav", "a.txt", os.path.join("sub", "c.wav")]:
    ...     open(os.path.join(root, name), "w").close()
    >>> [os.path.relpath(p, root) for p in wav_files(root)]
    ['b.wav']
    >>> len(wav_files(root, recursive=True))
    2
    """
    folder = os.path.abspath(folder)
    found = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        found.extend(os.path.join(current, name) for name in names if is_wav(name))
        if not recursive:
            break
    return sorted(found)


def stem(path):
    """A file's name without folder and extension.

    Arguments
    ---------
    path : str
        A file path.

    Returns
    -------
    str
        The stem.

    Example
    -------
    >>> stem("/data/emodb/wav/03a01Wa.wav")
    '03a01Wa'
    """
    return os.path.splitext(os.path.basename(path))[0]
