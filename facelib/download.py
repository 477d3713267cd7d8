"""Download CelebA-HQ (the StarGAN-v2 ``celeba_hq.zip``) for users with internet.

Standard library only (urllib): streamed with a tqdm bar, resumable through an HTTP Range request on a ``.part``
file, checked against an expected size and SHA-256, extracted so that ``dest/celeba_hq/{train,val}/{female,male}``
exists, and idempotent (nothing happens when the data are already there). Re-exported by :mod:`facelib.data`.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

__all__ = ["CELEBA_HQ_URL", "ChecksumError", "DownloadError", "download_celeba_hq", "sha256_of"]

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


def _offline_help(url: str, dest: Path, reason: object) -> str:
    return (
        f"could not download {url}: {reason}. There seems to be no internet connection (or the server is down). "
        f"Download celeba_hq.zip by hand on a machine with internet (the link above; StarGAN-v2's "
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
            return int(match.group(1)) if match else None
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
            while block := response.read(chunk_size):
                f.write(block)
                bar.update(len(block))
    return total


def _extract(archive: Path, dest: Path, progress: bool) -> Path:
    """Unzip into a scratch folder, then move the folder holding train/ and val/ to ``dest/celeba_hq``."""
    target = dest / "celeba_hq"
    scratch = dest / ".celeba_hq.extracting"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for member in tqdm(members, desc="extracting", unit="file", disable=not progress):
                zf.extract(member, scratch)  # zipfile drops absolute paths and '..' parts
    except zipfile.BadZipFile as err:
        raise ChecksumError(f"{archive} is not a valid zip file ({err}); delete it and download again") from err
    # The archive holds celeba_hq/{train,val} (StarGAN-v2) but accept train/ and val/ at its top level too.
    candidates = [scratch / "celeba_hq", scratch] + [p for p in scratch.iterdir() if p.is_dir()]
    found = next((c for c in candidates if _is_extracted(c)), None)
    if found is None:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ChecksumError(
            f"{archive} does not contain the CelebA-HQ layout celeba_hq/{{train,val}}/{{female,male}}/*.jpg"
        )
    if target.exists():  # a half-finished earlier extraction
        shutil.rmtree(target)
    found.rename(target)
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

    1. nothing to do when ``dest/celeba_hq`` already has the layout (idempotent);
    2. stream ``url`` into ``dest/celeba_hq.zip.part``; an existing ``.part`` is resumed with an HTTP Range
       request (a server that ignores Range makes it start over);
    3. check the size (``expected_size`` and the size the server announced) and ``sha256`` when given; on a
       mismatch raise :class:`ChecksumError` and extract nothing;
    4. rename to ``celeba_hq.zip``, extract, and delete the zip unless ``keep_zip``.

    Raises :class:`DownloadError` with instructions for placing the data by hand when the network is unreachable.
    CelebA terms apply: non-commercial research only.
    """
    dest = Path(dest).expanduser()
    target = dest / "celeba_hq"
    if _is_extracted(target):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "celeba_hq.zip"
    part = dest / "celeba_hq.zip.part"

    if not archive.exists():
        try:
            announced = _fetch(url, part, timeout, chunk_size, progress)
        except DownloadError:
            raise
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as err:
            reason = getattr(err, "reason", err)
            raise DownloadError(_offline_help(url, dest, reason)) from err
        size = part.stat().st_size
        for wanted, what in ((announced, "the size the server announced"), (expected_size, "expected_size")):
            if wanted is not None and size != wanted:
                raise ChecksumError(
                    f"{part} has {size} bytes but {what} is {wanted}: the download is incomplete or wrong. "
                    f"Run download_celeba_hq again to resume, or delete {part} to start over."
                )
        if sha256 is not None:
            actual = sha256_of(part)
            if actual.lower() != sha256.lower():
                raise ChecksumError(
                    f"{part} has SHA-256 {actual}, expected {sha256}: the file is corrupt or not the CelebA-HQ "
                    f"archive. Nothing was extracted; delete {part} and download again (or check the sha256)."
                )
        part.replace(archive)
    elif sha256 is not None and sha256_of(archive).lower() != sha256.lower():
        raise ChecksumError(f"{archive} does not match SHA-256 {sha256}; delete it and download again")

    target = _extract(archive, dest, progress)
    if not keep_zip:
        archive.unlink()
    return target
