"""gpu.slim: the branch without the committed weights that the device tool can carry, built without touching the
working tree or the index; and the campaign's code commit on that branch."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gpu import campaign, slim
from gpu.budget import DeviceBudget, MiB

REPO = Path(__file__).resolve().parents[1]
ENV_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    """A repository shaped like ours: code, weights (shards and manifests), results with per-case tables."""
    for var, value in ENV_ID.items():
        monkeypatch.setenv(var, value)
    files = {"facelib/a.py": "x = 1\n", "weights/m-00001-of-00002.safetensors": "w" * 3000,
             "weights/m-00002-of-00002.safetensors": "w" * 1000, "weights/m.json": "{}\n",
             "results/run/cases.csv": "c" * 2000, "results/run/nested/cases.csv": "c" * 500,
             "results/run/summary.md": "# s\n", "data/protocol/utkface_val_64.csv": "p\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "start")
    return tmp_path


def test_slim_branch_drops_weights_and_case_tables_only(repo):
    (repo / "facelib/a.py").write_text("x = 2\n")                 # an uncommitted edit must survive
    head = git(repo, "rev-parse", "HEAD").strip()
    info = slim.make_slim_branch(repo)
    assert info["source"] == head and info["dropped"] == 4
    assert git(repo, "rev-parse", "gpu-slim^").strip() == head
    kept = set(git(repo, "ls-tree", "-r", "--name-only", "gpu-slim").split())
    assert kept == {"facelib/a.py", "weights/m.json", "results/run/summary.md", "data/protocol/utkface_val_64.csv"}
    assert info["bytes_before"] - info["bytes_after"] == 3000 + 1000 + 2000 + 500
    # the working tree, the index and the checked-out branch are as they were
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(repo, "status", "--porcelain").splitlines() == [" M facelib/a.py"]
    assert (repo / "weights/m-00001-of-00002.safetensors").stat().st_size == 3000


def test_switching_to_the_slim_branch_and_back_restores_every_file(repo):
    slim.make_slim_branch(repo)
    git(repo, "switch", "-q", "gpu-slim")
    assert not (repo / "weights/m-00001-of-00002.safetensors").exists()
    assert (repo / "weights/m.json").exists()
    assert slim.source_commit(repo) == git(repo, "rev-parse", "main").strip()
    with pytest.raises(ValueError, match="already a slim commit"):
        slim.make_slim_branch(repo)
    git(repo, "switch", "-q", "main")
    assert (repo / "weights/m-00001-of-00002.safetensors").read_text() == "w" * 3000
    assert git(repo, "status", "--porcelain") == ""


def test_rerun_moves_the_branch_to_the_new_head(repo):
    first = slim.make_slim_branch(repo)["commit"]
    (repo / "facelib/b.py").write_text("y = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "more")
    second = slim.make_slim_branch(repo)
    assert second["commit"] != first and second["source"] == git(repo, "rev-parse", "HEAD").strip()
    assert "facelib/b.py" in git(repo, "ls-tree", "-r", "--name-only", "gpu-slim").split()


def test_cli_names_the_problem_in_one_line(repo, capsys):
    assert slim.main(["--repo", str(repo)]) == 0
    assert "4 files dropped" in capsys.readouterr().out
    git(repo, "switch", "-q", "gpu-slim")
    assert slim.main(["--repo", str(repo)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: HEAD is already a slim commit") and "git switch -" in err and "\n" not in err


def test_campaign_records_the_source_commit_on_the_slim_branch(repo, monkeypatch):
    slim.make_slim_branch(repo)
    git(repo, "switch", "-q", "gpu-slim")
    monkeypatch.setattr(campaign, "ROOT", repo)
    assert campaign._git_commit() == git(repo, "rev-parse", "--short=12", "main").strip()


def test_this_repository_slimmed_fits_the_device_with_room_for_the_pack(tmp_path, monkeypatch):
    """The real tree: without its weights and case tables it must leave the data pack most of what travels."""
    for var, value in ENV_ID.items():
        monkeypatch.setenv(var, value)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(REPO), str(clone)], check=True)
    info = slim.make_slim_branch(clone)
    assert info["bytes_after"] < DeviceBudget().carry_mib * MiB / 4, slim.describe(info)


def test_works_in_a_clone_with_no_git_identity(repo, monkeypatch, tmp_path):
    """A fresh CI machine may have no user.name: the slim commit is then signed by a named stand-in."""
    for var in ENV_ID:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    info = slim.make_slim_branch(repo)
    assert git(repo, "log", "-1", "--format=%an <%ae>", info["commit"]).strip() == "facelib gpu.slim <gpu.slim@localhost>"
