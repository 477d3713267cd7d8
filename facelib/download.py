"""Download CelebA-HQ (the StarGAN-v2 ``celeba_hq.zip``) for users with internet.

Standard library only (urllib): streamed with a tqdm bar, resumable through an HTTP Range request on a ``.part``
file, extracted so that ``dest/celeba_hq/{train,val}/{female,male}`` exists, and idempotent (nothing happens
when the data are already there). Re-exported by :mod:`facelib.data`; also a command line::

    python -m facelib.download data            # -> data/celeba_hq

What is checked, exactly: the size the server announces (and ``expected_size`` when given), the SHA-256 only
when you pass ``sha256=`` / ``--sha256`` (no checksum of the Dropbox archive is pinned here: none was
published with it, and we do not invent one), and the CRC-32 of every file in the zip while extracting. The
SHA-256 of what was downloaded is written to ``dest/celeba_hq.zip.sha256`` (``sha256sum`` format) so that you
can compare it with others and pin it next time.

Nothing of yours is deleted: the archive is extracted into a new temporary folder beside ``dest/celeba_hq``
and renamed into place in one step, and an existing ``dest/celeba_hq`` that is not complete is left
untouched (the download stops with a one-line error before fetching anything). A stalled or refused
connection keeps the bytes received so far in ``dest/celeba_hq.zip.part``; running again resumes from there.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .cli_errors import print_error
from .progress import tqdm

__all__ = ["CELEBA_HQ_URL", "ChecksumError", "DownloadError", "download_celeba_hq", "sha256_of", "main"]

# The archive StarGAN-v2's download.sh fetches (Choi et al. 2020), in its direct-download (dl=1) form.
CELEBA_HQ_URL = "https://www.dropbox.com/s/f7pvjij2xlpff59/celeba_hq.zip?dl=1"
_USER_AGENT = "facelib-downloader/0.1 (+urllib)"


class DownloadError(OSError):
    """The archive could not be fetched (no internet, server error); the message says what to do by hand."""


class ChecksumError(ValueError):
    """The downloaded file has the wrong size or SHA-256."""


def sha256_of(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_extracted(folder: Path) -> bool:
    return all(any((folder / split / g).is_dir() for g in ("female", "male")) for split in ("train", "val"))


def _offline_help(url: str, dest: Path, part: Path, reason: object) -> str:
    received = part.stat().st_size if part.is_file() else 0
    kept = (f"the {received:,} bytes received so far are kept in {part}: run the same command again to resume "
            "from there" if received else "nothing was received; run the same command again to retry")
    return (
        f"could not download {url}: the connection stalled or was refused ({reason}); {kept}. If this machine "
        f"has no internet connection, download celeba_hq.zip by hand elsewhere (the link above; StarGAN-v2's "
        f"download.sh uses the same file), unzip it so that {dest / 'celeba_hq'}/train/female/*.jpg exists, "
        f"and point facelib at it with FACELIB_DATA={dest / 'celeba_hq'} (or data=... in resolve_faces)."
    )


def _fetch(url: str, part: Path, timeout: float, chunk_size: int, progress: bool) -> int | None:
    """Append the missing bytes of ``url`` to ``part``; returns the total size the server announced (or None)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # Range not satisfiable: the .part already holds the whole file; the size/hash checks decide.
            match = re.search(r"/(\d+)$", err.headers.get("Content-Range", "") or "")
            total = int(match.group(1)) if match else None
            if total is not None and offset > total:
                # Larger than the whole file: not a prefix of it (another file, or a changed archive), so no
                # rerun could ever complete it. It is our own .part: start it over.
                part.unlink()
                return _fetch(url, part, timeout, chunk_size, progress)
            return total
        raise DownloadError(f"could not download {url}: HTTP {err.code} {err.reason}") from err
    with response:
        if offset and response.status == 206:
            match = re.search(r"/(\d+)$", response.headers.get("Content-Range", ""))
            total = int(match.group(1)) if match else None
            mode = "ab"
        else:  # a full answer (the server ignored Range, or a fresh start): start the file over
            offset, mode = 0, "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
        with open(part, mode) as f, tqdm(
            total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
            desc=f"downloading {part.name.removesuffix('.part')}", disable=not progress,
        ) as bar:
            # read1: whatever has arrived (up to chunk_size), so a stall keeps every byte received before it.
            while block := response.read1(chunk_size):
                f.write(block)
                bar.update(len(block))
    return total


def _occupied(target: Path) -> bool:
    """True when ``target`` exists and is not an empty folder: then it is the user's, and we never touch it."""
    if not target.exists() and not target.is_symlink():
        return False
    return not (target.is_dir() and not target.is_symlink() and not any(target.iterdir()))


def _occupied_error(target: Path) -> FileExistsError:
    return FileExistsError(
        f"{target} already exists but is not a complete CelebA-HQ folder ({{train,val}}/{{female,male}}/*.jpg); "
        f"it was left untouched: move or rename it (or pass another dest), then run the download again"
    )


def _extract(archive: Path, dest: Path, progress: bool) -> Path:
    """Unzip into a new temporary folder beside ``dest/celeba_hq``, then rename it into place in one step.

    The temporary folder (``dest/.celeba_hq.extracting.XXXXXXXX``) is created here, so it is the only folder this
    function ever deletes; ``dest/celeba_hq`` itself is only created by the final rename, never emptied.
    """
    target = dest / "celeba_hq"
    scratch = Path(tempfile.mkdtemp(prefix=".celeba_hq.extracting.", dir=dest))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for member in tqdm(members, desc="extracting", unit="file", disable=not progress):
                    zf.extract(member, scratch)  # zipfile drops absolute paths and '..' parts; checks CRC-32
        except zipfile.BadZipFile as err:
            raise ChecksumError(f"{archive} is not a valid zip file ({err}); delete it and download again") from err
        # The archive holds celeba_hq/{train,val} (StarGAN-v2) but accept train/ and val/ at its top level too.
        candidates = [scratch / "celeba_hq", scratch] + [p for p in scratch.iterdir() if p.is_dir()]
        found = next((c for c in candidates if _is_extracted(c)), None)
        if found is None:
            raise ChecksumError(
                f"{archive} does not contain the CelebA-HQ layout celeba_hq/{{train,val}}/{{female,male}}/*.jpg"
            )
        if _occupied(target):  # appeared while we were extracting: still not ours
            raise _occupied_error(target)
        if target.is_dir():
            target.rmdir()  # an empty folder only (rmdir refuses anything else): nothing to lose
        os.rename(found, target)  # atomic within one file system: target is complete or absent
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def download_celeba_hq(
    dest: str | os.PathLike,
    url: str = CELEBA_HQ_URL,
    sha256: str | None = None,
    expected_size: int | None = None,
    timeout: float = 30,
    chunk_size: int = 1 << 20,
    keep_zip: bool = False,
    progress: bool = True,
) -> Path:
    """Download and unpack CelebA-HQ (StarGAN-v2 layout, 28,000 train / 2,000 val, about 3 GB) into ``dest``.

    Returns ``dest/celeba_hq`` (which holds ``{train,val}/{female,male}/*.jpg``); use it as
    ``CelebAHQ(path)`` or ``FACELIB_DATA=path``. Steps:

    1. nothing to do when ``dest/celeba_hq`` already has the layout (idempotent); when ``dest/celeba_hq``
       exists without it (and is not an empty folder), stop with :class:`FileExistsError` before downloading:
       that folder is never modified or deleted;
    2. stream ``url`` into ``dest/celeba_hq.zip.part``; an existing ``.part`` is resumed with an HTTP Range
       request (a server that ignores Range makes it start over);
    3. check the size (``expected_size`` and the size the server announced), and the SHA-256 only when
       ``sha256`` is given (the default URL has no pinned checksum); on a mismatch raise
       :class:`ChecksumError` and extract nothing. The SHA-256 of the file is written to
       ``dest/celeba_hq.zip.sha256`` either way;
    4. rename to ``celeba_hq.zip``, extract into a temporary folder beside ``dest/celeba_hq`` (zip CRC-32
       checked) and rename it into place, then delete the zip unless ``keep_zip``.

    Raises :class:`DownloadError` when the connection stalls or is refused: the message says that the bytes
    received are kept in the ``.part`` file (a rerun resumes) and how to place the data by hand offline.
    CelebA terms apply: non-commercial research only.
    """
    dest = Path(dest).expanduser()
    target = dest / "celeba_hq"
    if _is_extracted(target):
        return target
    if _occupied(target):
        raise _occupied_error(target)
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "celeba_hq.zip"
    part = dest / "celeba_hq.zip.part"

    if not archive.exists():
        try:
            announced = _fetch(url, part, timeout, chunk_size, progress)
        except DownloadError:
            raise
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
                http.client.HTTPException) as err:
            reason = getattr(err, "reason", None) or err or type(err).__name__
            raise DownloadError(_offline_help(url, dest, part, reason)) from err
        size = part.stat().st_size
        for wanted, what in ((announced, "the size the server announced"), (expected_size, "expected_size")):
            if wanted is not None and size != wanted:
                raise ChecksumError(
                    f"{part} has {size} bytes but {what} is {wanted}: the download is incomplete or wrong. "
                    f"Run download_celeba_hq again to resume, or delete {part} to start over."
                )
        actual = sha256_of(part)
        if sha256 is not None and actual.lower() != sha256.lower():
            raise ChecksumError(
                f"{part} has SHA-256 {actual}, expected {sha256}: the file is corrupt or not the CelebA-HQ "
                f"archive. Nothing was extracted; delete {part} and download again (or check the sha256)."
            )
        # Recorded, not checked (no published checksum): compare it with others, pass it as sha256= next time.
        (dest / "celeba_hq.zip.sha256").write_text(f"{actual}  celeba_hq.zip\n", encoding="ascii")
        part.replace(archive)
    elif sha256 is not None and sha256_of(archive).lower() != sha256.lower():
        raise ChecksumError(f"{archive} does not match SHA-256 {sha256}; delete it and download again")

    target = _extract(archive, dest, progress)
    if not keep_zip:
        archive.unlink()
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m facelib.download DEST``: exit 0 when ``DEST/celeba_hq`` is ready, 1 on an error, 2 on usage."""
    parser = argparse.ArgumentParser(
        prog="python -m facelib.download",
        description="Download CelebA-HQ (StarGAN-v2's celeba_hq.zip, about 3 GB, non-commercial research only) "
                    "and unpack it into DEST/celeba_hq. Checks the announced size, the SHA-256 only with --sha256 "
                    "(none is pinned for the default URL), and records the SHA-256 in DEST/celeba_hq.zip.sha256.")
    parser.add_argument("dest", help="folder to download into, e.g. data (creates data/celeba_hq)")
    parser.add_argument("--url", default=CELEBA_HQ_URL, help="archive URL (default: StarGAN-v2's Dropbox link)")
    parser.add_argument("--sha256", default=None, help="expected SHA-256 of the archive (checked when given)")
    parser.add_argument("--expected-size", type=int, default=None, help="expected archive size in bytes")
    parser.add_argument("--timeout", type=float, default=30, help="seconds without data before giving up")
    parser.add_argument("--keep-zip", action="store_true", help="keep celeba_hq.zip after extracting")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        root = download_celeba_hq(args.dest, url=args.url, sha256=args.sha256, expected_size=args.expected_size,
                                  timeout=args.timeout, keep_zip=args.keep_zip, progress=not args.no_progress)
    except (OSError, ValueError) as err:  # a stalled download, a bad checksum, a read-only or full disk ...
        return print_error(err, args.dest)
    print(f"CelebA-HQ is in {root} (use FACELIB_DATA={root})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
