"""Tests of facelib.download (re-exported by facelib.data) against a local HTTP server: never the internet.

A tiny celeba_hq.zip in the StarGAN-v2 layout is served from 127.0.0.1 by a handler that honours Range
requests, and records them, so resuming can be checked byte by byte.
"""
from __future__ import annotations

import hashlib
import io
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from facelib.data import CelebAHQ, ChecksumError, DownloadError, download_celeba_hq


def _make_zip() -> bytes:
    """celeba_hq/{train,val}/{female,male}/*.jpg with tiny JPEGs, stored uncompressed so the zip is a few KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for split, n in (("train", 2), ("val", 1)):
            for g, colour in (("female", (220, 40, 40)), ("male", (40, 40, 220))):
                for i in range(n):
                    jpg = io.BytesIO()
                    Image.new("RGB", (32, 32), colour).save(jpg, format="JPEG")
                    zf.writestr(f"celeba_hq/{split}/{g}/{i:06d}.jpg", jpg.getvalue())
    return buffer.getvalue()


ZIP = _make_zip()
ZIP_SHA256 = hashlib.sha256(ZIP).hexdigest()


class _Server:
    """Serves ZIP at /celeba_hq.zip; `requests` records (path, Range header); `honour_range` can be switched off."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.honour_range = True
        # stall_after: send that many bytes of the body, then go silent until close() (a stalled connection).
        self.stall_after: int | None = None
        self.released = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                range_header = self.headers.get("Range")
                server.requests.append((self.path, range_header))
                if not self.path.startswith("/celeba_hq.zip"):
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
                if match and server.honour_range:
                    start = int(match.group(1))
                    if start >= len(ZIP):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(ZIP)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(ZIP) - 1}/{len(ZIP)}")
                else:
                    self.send_response(200)
                body = ZIP[start:]
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.stall_after is not None:
                    self.wfile.write(body[: server.stall_after])
                    self.wfile.flush()
                    server.released.wait(timeout=10)  # bounded: the test closes the server long before
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/celeba_hq.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would intercept requests to 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


def _download(dest: Path, url: str, **kw) -> Path:
    return download_celeba_hq(dest, url=url, timeout=5, chunk_size=512, progress=False, **kw)


def test_full_download_extracts_and_verifies(server: _Server, tmp_path: Path):
    root = _download(tmp_path, server.url, sha256=ZIP_SHA256, expected_size=len(ZIP))
    assert root == tmp_path / "celeba_hq"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg")) == [
        "train/female/000000.jpg", "train/female/000001.jpg", "train/male/000000.jpg", "train/male/000001.jpg",
        "val/female/000000.jpg", "val/male/000000.jpg",
    ]
    assert CelebAHQ(root, split="train", size=8).counts() == {"female": 2, "male": 2}
    assert not (tmp_path / "celeba_hq.zip").exists() and not (tmp_path / "celeba_hq.zip.part").exists()
    assert server.requests == [("/celeba_hq.zip", None)]
    # idempotent: a second call finds the data and makes no request
    assert _download(tmp_path, server.url, sha256=ZIP_SHA256) == root
    assert len(server.requests) == 1


def test_resume_from_partial_file(server: _Server, tmp_path: Path):
    half = len(ZIP) // 2
    (tmp_path / "celeba_hq.zip.part").write_bytes(ZIP[:half])
    root = _download(tmp_path, server.url, sha256=ZIP_SHA256, keep_zip=True)
    assert server.requests == [("/celeba_hq.zip", f"bytes={half}-")]  # only the missing bytes were asked for
    assert (tmp_path / "celeba_hq.zip").read_bytes() == ZIP
    assert len(list(root.rglob("*.jpg"))) == 6


def test_resume_when_part_is_already_complete(server: _Server, tmp_path: Path):
    (tmp_path / "celeba_hq.zip.part").write_bytes(ZIP)  # server answers 416: nothing left to fetch
    root = _download(tmp_path, server.url, sha256=ZIP_SHA256)
    assert len(list(root.rglob("*.jpg"))) == 6


def test_server_ignoring_range_restarts_cleanly(server: _Server, tmp_path: Path):
    server.honour_range = False
    (tmp_path / "celeba_hq.zip.part").write_bytes(b"stale bytes that must not stay in front")
    root = _download(tmp_path, server.url, sha256=ZIP_SHA256)
    assert len(list(root.rglob("*.jpg"))) == 6


def test_wrong_checksum_extracts_nothing(server: _Server, tmp_path: Path):
    with pytest.raises(ChecksumError, match="SHA-256") as err:
        _download(tmp_path, server.url, sha256="0" * 64)
    assert "Nothing was extracted" in str(err.value)
    assert not (tmp_path / "celeba_hq").exists() and not (tmp_path / "celeba_hq.zip").exists()
    with pytest.raises(ChecksumError, match="expected_size"):
        _download(tmp_path / "other", server.url, expected_size=len(ZIP) + 1)
    assert not (tmp_path / "other" / "celeba_hq").exists()


def test_http_error_is_reported(server: _Server, tmp_path: Path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        _download(tmp_path, server.url.replace("celeba_hq.zip", "missing.zip"))


def test_unreachable_server_gives_offline_help(tmp_path: Path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError) as err:
        _download(tmp_path, f"http://127.0.0.1:{port}/celeba_hq.zip")
    text = str(err.value)
    assert isinstance(err.value, OSError)
    assert "no internet connection" in text and "FACELIB_DATA" in text and "by hand" in text
    assert not (tmp_path / "celeba_hq").exists()


# ----------------------------------------------------------------------------------- issue 14, items 3 and 8
def test_incomplete_existing_folder_is_never_deleted(server: _Server, tmp_path: Path):
    """Item 3: an incomplete dest/celeba_hq holding the user's files stays untouched; nothing is fetched."""
    mine = tmp_path / "celeba_hq"
    (mine / "train" / "female").mkdir(parents=True)
    (mine / "train" / "female" / "my_face.jpg").write_bytes(b"the user's own photo")
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(FileExistsError) as err:
        _download(tmp_path, server.url)
    message = str(err.value)
    assert "\n" not in message and "left untouched" in message and "move or rename it" in message
    assert (mine / "train" / "female" / "my_face.jpg").read_bytes() == b"the user's own photo"
    assert (mine / "notes.txt").read_text() == "my notes"
    assert server.requests == [], "nothing may be downloaded for a destination that cannot be used"


def test_extraction_goes_through_a_temporary_folder_and_leaves_none(server: _Server, tmp_path: Path):
    (tmp_path / "celeba_hq").mkdir()  # an empty folder (e.g. made by hand beforehand) is fine to fill
    root = _download(tmp_path, server.url)
    assert len(list(root.rglob("*.jpg"))) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["celeba_hq", "celeba_hq.zip.sha256"]


def test_archive_without_the_layout_leaves_no_scratch_and_no_target(tmp_path: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("something/else.txt", "not faces")
    (tmp_path / "celeba_hq.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ChecksumError, match="does not contain the CelebA-HQ layout"):
        download_celeba_hq(tmp_path, url="http://127.0.0.1:9/unused", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["celeba_hq.zip"]


def test_sha256_is_recorded_not_claimed(server: _Server, tmp_path: Path):
    _download(tmp_path, server.url)  # no sha256 given: nothing to check, but the hash is written down
    assert (tmp_path / "celeba_hq.zip.sha256").read_text() == f"{ZIP_SHA256}  celeba_hq.zip\n"


def test_stalled_connection_keeps_the_partial_file_and_a_rerun_resumes(server: _Server, tmp_path: Path):
    half = len(ZIP) // 2
    server.stall_after = half
    with pytest.raises(DownloadError) as err:
        download_celeba_hq(tmp_path, url=server.url, timeout=0.5, chunk_size=512, progress=False)
    message = str(err.value)
    part = tmp_path / "celeba_hq.zip.part"
    assert "\n" not in message and "stalled or was refused" in message
    assert f"{half:,} bytes received so far are kept in {part}" in message and "run the same command again" in message
    assert part.read_bytes() == ZIP[:half]
    server.stall_after = None
    root = _download(tmp_path, server.url, sha256=ZIP_SHA256)
    assert server.requests[-1] == ("/celeba_hq.zip", f"bytes={half}-")  # resumed, not restarted
    assert len(list(root.rglob("*.jpg"))) == 6


def test_cli_downloads_and_without_a_destination_shows_usage(server: _Server, tmp_path: Path, capsys):
    from facelib.download import main

    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2 and "usage: python -m facelib.download" in capsys.readouterr().err
    assert main([str(tmp_path), "--url", server.url, "--sha256", ZIP_SHA256, "--no-progress", "--timeout", "5"]) == 0
    assert f"CelebA-HQ is in {tmp_path / 'celeba_hq'}" in capsys.readouterr().out


def test_cli_names_an_unwritable_destination_and_the_fix_in_one_line(tmp_path: Path, capsys, monkeypatch):
    """A destination the process may not write (read-only disk, no permission, a file in the way) is one line
    naming the path and what to do, not a traceback or a bare errno."""
    import errno

    import facelib.download as download

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert download.main([str(blocker / "data"), "--url", "http://127.0.0.1:9/x.zip", "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(blocker) in err and "a file stands where a folder is needed" in err

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr(download, "download_celeba_hq", read_only)
    assert download.main([str(tmp_path / "ro"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "the disk is read-only: choose a folder on a writable disk" in err
    assert str(tmp_path / "ro") in err
