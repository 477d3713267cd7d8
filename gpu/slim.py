"""A slim branch for the device: the repository without its trained weights and per-case tables.

The device tool sends the session's working tree, at most ``--carry-mib`` (64 MiB today) with the data pack.
Since the classroom models were committed, ``weights/*.safetensors`` alone is more than that; the device
calls need none of them (the campaign trains its own models at 128x128), nor the per-case CSVs of
``results/``. So the campaign runs from a branch whose one commit, on top of the checkout's, deletes them:

    python -m gpu.slim                  # branch gpu-slim = HEAD without SLIM_DROP; prints what it saves
    git switch gpu-slim                 # the working tree that travels is now the slim one
    python -m gpu.datapack build        # the pack's room is measured on the slim tree
    python -m gpu.campaign plan         # --code-commit is HEAD's source commit (the slim commit's parent)
    ... the two device calls ...
    git switch -                        # back: git restores the dropped files from the source commit
    python -m gpu.campaign unpack <call1 files_at> <call2 files_at>

Nothing here touches the working tree or the index: the slim commit is written with a temporary index
(``GIT_INDEX_FILE``) and ``git commit-tree``; only ``git switch`` (yours) changes files, and only tracked ones,
which the source commit keeps.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from gpu.budget import MiB

ROOT = Path(__file__).resolve().parents[1]
BRANCH = "gpu-slim"
#: What the device calls never read, as git pathspecs: the committed weights and per-case tables.
SLIM_DROP = (":(glob)**/*.safetensors", ":(glob)results/**/cases.csv")
#: The first words of a slim commit's message; the source commit's full hash follows them.
MARK = "gpu-slim of "


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def source_commit(repo: Path = ROOT, rev: str = "HEAD") -> str:
    """The full hash of the commit whose code ``rev`` holds: its parent when ``rev`` is a slim commit, else itself."""
    subject = _git(repo, "log", "-1", "--format=%s", rev).strip()
    if subject.startswith(MARK):
        return subject[len(MARK):].split()[0].rstrip(":")
    return _git(repo, "rev-parse", rev).strip()


def tree_bytes(repo: Path, rev: str) -> int:
    """Bytes of every file in ``rev``'s tree (what a checkout of it holds)."""
    total = 0
    for line in _git(repo, "ls-tree", "-r", "-l", rev).splitlines():
        size = line.split()[3]
        total += int(size) if size.isdigit() else 0     # "-" for submodules
    return total


def _identity_env(repo: Path) -> dict[str, str]:
    """The environment for ``git commit-tree``: the configured identity, else a named stand-in (a fresh CI clone
    may have none, and the slim commit is local scaffolding, never pushed)."""
    env = dict(os.environ)
    for key, var in (("user.name", "NAME"), ("user.email", "EMAIL")):
        configured = subprocess.run(["git", "-C", str(repo), "config", key], capture_output=True, text=True)
        if not configured.stdout.strip():
            fallback = "facelib gpu.slim" if var == "NAME" else "gpu.slim@localhost"
            env.setdefault(f"GIT_AUTHOR_{var}", fallback)
            env.setdefault(f"GIT_COMMITTER_{var}", fallback)
    return env


def make_slim_branch(repo: Path = ROOT, branch: str = BRANCH, drop: tuple[str, ...] = SLIM_DROP) -> dict:
    """Point ``branch`` at one new commit on top of HEAD that deletes the paths ``drop`` matches.

    Returns the branch, the slim commit, its source (HEAD), the files dropped and the bytes of both trees.
    Raises ``ValueError`` when HEAD is itself a slim commit (switch back to the source branch first) or when
    ``branch`` is checked out.
    """
    head = _git(repo, "rev-parse", "HEAD").strip()
    if source_commit(repo) != head:
        raise ValueError(f"HEAD is already a slim commit (of {source_commit(repo)[:12]}): run `git switch -` "
                         f"back to the source branch, then python -m gpu.slim")
    current = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "-q", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
    if current == branch:
        raise ValueError(f"{branch} is checked out: switch to the source branch first")
    with tempfile.TemporaryDirectory(prefix="gpu-slim-") as tmp:
        env = {**_identity_env(repo), "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git(repo, "read-tree", head, env=env)
        removed = _git(repo, "rm", "-r", "--cached", "--ignore-unmatch", "--", *drop, env=env).splitlines()
        tree = _git(repo, "write-tree", env=env).strip()
        message = (f"{MARK}{head}: without {', '.join(d.split(')')[-1] for d in drop)} "
                   f"({len(removed)} files), for the device tool (python -m gpu.slim)")
        commit = _git(repo, "commit-tree", tree, "-p", head, "-m", message, env=env).strip()
    _git(repo, "update-ref", f"refs/heads/{branch}", commit)
    return {"branch": branch, "commit": commit, "source": head, "dropped": len(removed),
            "bytes_before": tree_bytes(repo, head), "bytes_after": tree_bytes(repo, commit)}


def describe(info: dict) -> str:
    return (f"branch {info['branch']} -> {info['commit'][:12]} (source {info['source'][:12]}): {info['dropped']} files "
            f"dropped, tracked {info['bytes_before'] / MiB:.2f} MiB -> {info['bytes_after'] / MiB:.2f} MiB. Next: "
            f"git switch {info['branch']}; python -m gpu.datapack build; python -m gpu.campaign plan; the device calls; "
            f"git switch -; python -m gpu.campaign unpack ...")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpu.slim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--branch", default=BRANCH, help=f"the branch to point at the slim commit (default {BRANCH})")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the repository (default: this one)")
    args = parser.parse_args(argv)
    try:
        print(describe(make_slim_branch(args.repo, args.branch)))
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
