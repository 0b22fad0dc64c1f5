"""Writing output files so nothing is ever lost: never over the input, never half-written.

Each file is written to a temporary name in the target folder and renamed into place,
so an interrupted run (Ctrl-C, a crash, a full disk) leaves the old file or none.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from resilience.errors import InputError, Problem


class OutputError(Exception):
    """The output cannot be written where asked (exit code 1 with a plain message)."""


def check_output(target: Path, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse, before any work, an output that is an input or cannot be written."""
    for source in inputs:
        if _same_file(target, source):
            raise InputError([Problem("command line", "", f"the output {target} is the input "
                                      "workbook; choose another name (the input is never "
                                      "overwritten)")])
    if target.exists() and target.is_dir():
        raise OutputError(f"cannot write {target}: it is a folder")
    folder = target.parent if str(target.parent) else Path(".")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent  # the folders in between will be created
    if not existing.is_dir():
        raise OutputError(f"cannot write {target}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise OutputError(f"cannot write into {existing}: permission denied")


def _same_file(a: Path, b: Path) -> bool:
    """The same file, or (when one does not exist yet) the same resolved path."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[Path]:
    folder = target.parent if str(target.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {folder}: {exc.strerror}") from None
    try:
        temporary = _create_new(folder, target.name)
    except OSError as exc:
        raise OutputError(f"cannot write into {folder}: {exc.strerror}") from None
    try:
        yield temporary
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


# Created the way `open(path, "w")` creates a new file: the kernel applies the process's
# umask to 0o666 itself, so a new report gets the mode any new file gets, without reading
# the umask (os.umask can only be read by setting it, which every other thread would see).
_NEW_FILE_FLAGS = (os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
                   | getattr(os, "O_CLOEXEC", 0))


def _create_new(folder: Path, name: str) -> Path:
    """A new empty file `.NAME.RANDOM.tmp` in `folder`, created exclusively (never an
    existing file, never through a symbolic link)."""
    for _ in range(100):
        path = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            handle = os.open(path, _NEW_FILE_FLAGS, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return path
    raise FileExistsError(errno.EEXIST, "no free temporary name")


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary_path)`, then rename the result onto `target`."""
    with _temporary_beside(target) as temporary:
        write(temporary)
        # The temporary file has the mode a new file gets; a file that is replaced keeps
        # its own mode.
        with contextlib.suppress(OSError):
            if target.exists():
                os.chmod(temporary, target.stat().st_mode & 0o777)
        try:
            os.replace(temporary, target)
        except OSError as exc:
            raise OutputError(f"cannot replace {target}: {exc.strerror} (is it open in "
                              "Excel?)") from None


def write_text_atomically(target: Path, text: str) -> None:
    write_atomically(target, lambda path: path.write_text(text, encoding="utf-8"))
