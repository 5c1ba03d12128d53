"""Peers live in virtualenvs of their own, never in carelake's: made with uv on first use, remade when their
pinned requirements change."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def peer_python(venv: Path, requirements: Path, what: str) -> Path:
    """The interpreter of `venv`, (re)made from `requirements` when missing or when the requirements changed."""
    python = venv / "bin" / "python"
    wanted = requirements.read_text()
    stamp = venv / "requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit(f"{what} needs uv to make {venv}: python3 -m pip install uv")
    print(f"installing {what} into {venv} (once) ...", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([uv, "venv", "-q", "--python", "python3.11", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), "-r", str(requirements)], check=True)
    stamp.write_text(wanted)
    return python
