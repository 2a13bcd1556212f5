"""Files that hold data or keys: 0600, in folders the bot creates 0700.

``python -m bot`` also sets the process umask to 077, which covers every file SQLite makes
beside a database (``-wal``, ``-shm``, ``-journal``); these helpers make the same true when
the bot's parts are used without it (tests, the embedded sandbox) and tighten files an older
version left readable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) as 0700; an existing folder is left as it is
    (it may be the working directory, or shared on purpose)."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            created.mkdir(mode=PRIVATE_DIR)
        os.chmod(created, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    return folder


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists as 0600 before anyone writes it (SQLite then creates its
    -wal and -shm files with the same mode); files beside it of the same database too."""
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, PRIVATE_FILE)
    os.close(fd)
    for companion in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, PRIVATE_FILE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as a 0600 file, atomically."""
    private_dir(path.parent)
    # A fresh, unguessable name created exclusively (mkstemp: O_EXCL, 0600): nothing planted
    # beside the target (a symlink to elsewhere) can receive the data.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_FILE)
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
