"""Uploaded CSV files on the server's disk, under names the server chooses.

The web app stages a file under ``<runs_dir>/uploads/<token>/`` (a random token) until the chemist
confirms it, naming it again only by that token (what the confirm form posts back). A staged file
waits ``upload_ttl_seconds`` at most, and at most ``max_staged_uploads`` wait at once (the oldest
go first). No request ever names a path, and no error shown to a client names one: an upload is
read by the name its client gave it (:func:`client_name`).
"""

from __future__ import annotations

import contextlib
import csv
import re
import secrets
import shutil
import time
from pathlib import Path

from fastapi import UploadFile

from chemloop.errors import ChemloopError
from chemloop.reward.data import SD_SUFFIXES, CsvTable
from chemloop.services.settings import ServeSettings

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


def client_name(filename: str | None) -> str:
    """The name the client gave its file, without any folder it may have sent along."""
    name = "".join(c for c in re.split(r"[\\/]", filename or "")[-1] if c.isprintable()).strip()
    return name[:100] or "the file"


def _waiting(settings: ServeSettings) -> list[tuple[float, Path]]:
    """(time staged, folder) of every staged upload, oldest first."""
    found = []
    for folder in _folder(settings).glob("*"):
        if TOKEN.fullmatch(folder.name):
            with contextlib.suppress(OSError):  # removed meanwhile
                found.append((folder.stat().st_mtime, folder))
    return sorted(found)


def prune(settings: ServeSettings, room_for: int = 0) -> None:
    """Remove staged uploads older than ``upload_ttl_seconds``, then the oldest until at most
    ``max_staged_uploads - room_for`` are left."""
    waiting = _waiting(settings)
    expired = time.time() - settings.upload_ttl_seconds
    keep = [(t, f) for t, f in waiting if t > expired]
    drop = [f for t, f in waiting if t <= expired]
    excess = len(keep) - max(0, settings.max_staged_uploads - room_for)
    drop += [f for _, f in keep[: max(0, excess)]]
    for folder in drop:
        shutil.rmtree(folder, ignore_errors=True)


def stage(settings: ServeSettings, filename: str | None, data: bytes) -> tuple[str, Path]:
    """Keep ``data`` until it is confirmed (or expires); returns (token, path)."""
    prune(settings, room_for=1)
    token = secrets.token_hex(32)
    folder = _folder(settings) / token
    folder.mkdir(parents=True)
    path = folder / safe_name(filename)
    path.write_bytes(data)
    return token, path


def staged(settings: ServeSettings, token: str) -> Path | None:
    """The file staged under ``token``, or None when there is none or it expired (a malformed token
    never reaches the filesystem)."""
    if not TOKEN.fullmatch(token):
        return None
    folder = _folder(settings) / token
    try:
        expired = folder.stat().st_mtime <= time.time() - settings.upload_ttl_seconds
    except OSError:
        return None
    if expired:
        discard(settings, token)
        return None
    files = sorted(folder.glob("*"))
    return files[0] if files else None


def discard(settings: ServeSettings, token: str) -> None:
    if TOKEN.fullmatch(token):
        shutil.rmtree(_folder(settings) / token, ignore_errors=True)


def raw_rows(
    data: bytes, filename: str, table: CsvTable | None
) -> tuple[list[str], list[tuple[int, list[str]]], int]:
    """The file as a spreadsheet shows it: header, the first data rows with their spreadsheet row
    numbers (blank rows skipped, as the reader skips them), and the number of data rows. An SD file
    shows as ``table``, the table it was read as (its molecules' SMILES, its data items); one that
    could not be read (None) shows no rows (the preview says why)."""
    if Path(filename).suffix.lower() in SD_SUFFIXES:
        if table is None:
            return [], [], 0
        header, lines = table.header or [], table.lines
        unreadable = set(table.unreadable)
    else:
        reader = csv.reader(data.decode("utf-8-sig", errors="replace").splitlines())
        header, lines = next(reader, []), list(reader)
        unreadable = set()
    rows = [
        (n, line) for n, line in enumerate(lines, start=2) if n in unreadable or any(c.strip() for c in line)
    ]
    return header, rows[:PREVIEW_ROWS], len(rows)
