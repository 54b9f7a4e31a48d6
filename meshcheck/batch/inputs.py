"""Who is graded: a folder of kubeconfigs (one file a student, named by its stem) or a CSV of
``name,kubeconfig[,context]``.

Only the batch's own input is judged here: the folder or CSV exists, every row can be read, names are
usable as folder names and unique. Whether a kubeconfig can be read is each cluster's own question, which
the suite answers in that cluster's row (``ERROR: meshcheck: …``): one student's broken file must not stop
a batch of forty.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

# Files at the top of the output folder: a student of that name would collide with them.
RESERVED = ("index.html", "scores.csv")
HEADER = ("name", "kubeconfig", "context")


class BatchInputError(Exception):
    """The batch command's own input cannot be used (exit code 2): said in one line, never a traceback."""


@dataclass(frozen=True)
class Target:
    """One cluster to grade: whose it is (the name of its folder and row), its kubeconfig and context."""

    name: str
    kubeconfig: Path
    context: str | None = None


def read_targets(source: Path) -> list[Target]:
    """The clusters to grade, from a folder of kubeconfigs or a CSV file, checked for unique usable names."""
    if source.is_dir():
        targets = read_folder(source)
    elif source.is_file():
        targets = read_csv(source)
    else:
        raise BatchInputError(f"{source}: no such folder or CSV file (give a folder of kubeconfigs, one a student, "
                              "or a CSV of name,kubeconfig[,context])")
    if not targets:
        raise BatchInputError(f"{source}: no clusters to grade in it")
    _check_unique(targets, source)
    return targets


def read_folder(folder: Path) -> list[Target]:
    """Every regular file in ``folder`` that is not hidden, one student each, named by its stem.

    Subfolders and dotfiles are left alone (an editor's backup, ``.DS_Store``); any other file is a
    student's kubeconfig even when it cannot be parsed, so that its row says so.
    """
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise BatchInputError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from None
    targets = []
    for path in entries:
        if path.name.startswith(".") or not path.is_file():
            continue
        name = path.stem
        problem = name_problem(name)
        if problem:
            raise BatchInputError(f"{path}: the file's name cannot name a student: {problem}")
        targets.append(Target(name, path.resolve()))
    return targets


def read_csv(path: Path) -> list[Target]:
    """Rows of ``name,kubeconfig[,context]``; a first row reading ``name,kubeconfig…`` is a header.

    Blank lines and lines starting with ``#`` are skipped; a relative kubeconfig path is relative to the
    CSV's folder (``~`` is the user's home), so the CSV can travel with the files it names.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"{path}: cannot read the CSV file ({_why(exc)})") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise BatchInputError(f"{path}: not a CSV file ({exc})") from None
    targets = []
    first = _first_row(rows)
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == first and [c.lower() for c in cells[:2]] == list(HEADER[:2]):
            if len(cells) > 3 or (len(cells) == 3 and cells[2].lower() != HEADER[2]):
                raise BatchInputError(f"{path}:{number}: the header must read name,kubeconfig[,context]")
            continue
        targets.append(_target(path, number, cells))
    return targets


def _first_row(rows: list[list[str]]) -> int:
    """The number of the first line holding anything but blanks and comments."""
    for number, row in enumerate(rows, start=1):
        cells = [cell.strip() for cell in row]
        if any(cells) and not cells[0].startswith("#"):
            return number
    return 0


def _target(path: Path, number: int, cells: list[str]) -> Target:
    where = f"{path}:{number}"
    if len(cells) not in (2, 3):
        raise BatchInputError(f"{where}: expected name,kubeconfig[,context], found {len(cells)} columns")
    name, kubeconfig = cells[0], cells[1]
    context = cells[2] if len(cells) == 3 and cells[2] else None
    problem = name_problem(name)
    if problem:
        raise BatchInputError(f"{where}: {problem}")
    if not kubeconfig:
        raise BatchInputError(f"{where}: no kubeconfig path for {name}")
    file = Path(os.path.expanduser(kubeconfig))
    if not file.is_absolute():
        file = path.resolve().parent / file
    return Target(name, file, context)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a student's folder in the output, or None.

    Names are free text (spaces, accents) but become folder names: no path separators, no leading dot,
    nothing that is the name of the batch's own files.
    """
    if not name:
        return "the name is empty"
    if name.startswith("."):
        return f"the name {name!r} starts with a dot"
    if any(char in name for char in ("/", "\\", "\0")) or any(ord(char) < 32 for char in name):
        return f"the name {name!r} holds a path separator or a control character"
    if name.lower() in RESERVED:
        return f"the name {name!r} is the name of one of the batch's own files"
    return None


def _check_unique(targets: list[Target], source: Path) -> None:
    """Names must differ, also in case: each is a folder, and macOS and Windows fold case in file names."""
    seen: dict[str, str] = {}
    for target in targets:
        key = target.name.casefold()
        if key in seen:
            same = "twice" if seen[key] == target.name else f"twice ({seen[key]!r} and {target.name!r})"
            raise BatchInputError(f"{source}: the name {target.name!r} appears {same}: every cluster needs "
                                  "its own name, its report's folder")
        seen[key] = target.name


def _why(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
