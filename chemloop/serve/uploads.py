"""Uploaded CSV files on the server's disk, under names the server chooses.

The web app stages a file under ``<runs_dir>/uploads/<sha256>/`` until the chemist confirms it,
naming it again only by that digest (the token the confirm form posts back); the API reads an
upload through a temporary file (:func:`temporary_file`). No request ever names a path.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from chemloop.errors import ChemloopError
from chemloop.serve.settings import ServeSettings

TOKEN = re.compile(r"[0-9a-f]{64}")
PREVIEW_ROWS = 200  # rows shown in a preview; errors are listed for every row


def _folder(settings: ServeSettings) -> Path:
    return Path(settings.runs_dir) / "uploads"


def safe_name(filename: str | None) -> str:
    """A file name from the client's: letters, digits and ``._-`` only, no leading dot."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(filename or "").name).lstrip(".")
    return name[:100] or "results.csv"


async def read_upload(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ChemloopError(f"{file.filename} is larger than the server's limit of {limit:,} bytes")
    if not data.strip():
        raise ChemloopError(f"{file.filename or 'the file'} is empty")
    return data


def stage(settings: ServeSettings, filename: str | None, data: bytes) -> tuple[str, Path]:
    """Keep ``data`` until it is confirmed; returns (token, path)."""
    token = hashlib.sha256(data).hexdigest()
    folder = _folder(settings) / token
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_name(filename)
    path.write_bytes(data)
    return token, path


def staged(settings: ServeSettings, token: str) -> Path | None:
    """The file staged under ``token``, or None (a malformed token never reaches the filesystem)."""
    if not TOKEN.fullmatch(token):
        return None
    files = sorted((_folder(settings) / token).glob("*"))
    return files[0] if files else None


def discard(settings: ServeSettings, token: str) -> None:
    if TOKEN.fullmatch(token):
        shutil.rmtree(_folder(settings) / token, ignore_errors=True)


@contextmanager
def temporary_file(settings: ServeSettings, filename: str | None) -> Iterator[Path]:
    """A path for one request's upload inside the uploads folder, removed afterwards."""
    _folder(settings).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=_folder(settings)) as folder:
        yield Path(folder) / safe_name(filename)


def raw_rows(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    """The file as a spreadsheet shows it: header, the first data rows with their spreadsheet row
    numbers (blank rows skipped, as the reader skips them), and the number of data rows."""
    reader = csv.reader(data.decode("utf-8-sig", errors="replace").splitlines())
    header = next(reader, [])
    rows = [(n, line) for n, line in enumerate(reader, start=2) if any(c.strip() for c in line)]
    return header, rows[:PREVIEW_ROWS], len(rows)
