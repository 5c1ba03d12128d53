"""The audit trail: each command recorded as it ran, and any change to an entry, or its removal, detected."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from carelake.privacy.audit import AuditEntry, AuditError, append_entry, masked_command, masked_url, verify_log


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELAKE_")}
    env["CARELAKE_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    cmd = [sys.executable, "-m", "carelake", "--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_commands_are_recorded_with_what_they_printed(tmp_path: Path, sample_dir: Path) -> None:
    log = tmp_path / "audit.jsonl"
    assert _cli(tmp_path, "load", "omop", str(sample_dir)).returncode == 0
    info = _cli(tmp_path, "info", "--json")
    assert info.returncode == 0
    (tmp_path / "site.key").write_bytes(b"k" * 40)
    pseudo = _cli(tmp_path, "privacy", "pseudonymize", "--secret-file", "site.key", "--to-schema", "cdm_p", "--json")
    assert pseudo.returncode == 0, pseudo.stderr
    refused = _cli(tmp_path, "privacy", "pseudonymize", "--secret-file", "site.key", "--to-schema", "cdm_p")
    assert refused.returncode == 2
    assert _cli(tmp_path, "synth", "--persons", "5", "--out", "s").returncode == 0  # simulated: not recorded
    assert _cli(tmp_path, "info", "--help").returncode == 0  # help: not recorded
    entries = [json.loads(line) for line in _lines(log)]
    assert [e["command"][1:4] for e in entries] == [
        ["--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", "load"],
        ["--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", "info"],
        ["--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", "privacy"],
        ["--warehouse", f"duckdb:///{tmp_path / 'wh.duckdb'}", "privacy"],
    ]
    assert [e["outcome"] for e in entries] == ["ok", "ok", "ok", "exit 2 (UserError)"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[1]["stdout_sha256"] == hashlib.sha256(info.stdout.encode()).hexdigest()
    assert entries[2]["rows"] == sum(json.loads(pseudo.stdout)["rows"].values()) > 290_000
    assert all(e["user"] and e["host"] and e["at"] for e in entries)
    verified = _cli(tmp_path, "privacy", "audit", "verify", "--log", str(log), "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["entries"] == 4  # verifying reads the trail and adds nothing to it
    assert len(_lines(log)) == 4


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    for n in range(5):
        append_entry(AuditEntry(["carelake", "info", str(n)], "ok", "duckdb:///x.duckdb", rows=n), log)
    return log


def test_a_changed_entry_is_found(trail: Path) -> None:
    head = verify_log(trail).head
    lines = _lines(trail)
    entry = json.loads(lines[2])
    entry["rows"] = 1000  # a count made to look larger, the hash left as it was
    trail.write_text("".join([*lines[:2], json.dumps(entry) + "\n", *lines[3:]]))
    with pytest.raises(AuditError, match=r"audit.jsonl:3: entry 3 was changed after it was written") as e:
        verify_log(trail)
    assert e.value.line == 3
    entry["hash"] = hashlib.sha256(b"a hash made up to match").hexdigest()  # rewriting its hash breaks the next link
    trail.write_text("".join([*lines[:2], json.dumps(entry) + "\n", *lines[3:]]))
    with pytest.raises(AuditError, match=r"audit.jsonl:3: entry 3 was changed|audit.jsonl:4: entry 4 does not follow"):
        verify_log(trail)
    trail.write_text("".join(lines))
    assert verify_log(trail, head=head).entries == 5


def test_a_removed_or_moved_entry_is_found(trail: Path) -> None:
    lines = _lines(trail)
    head = verify_log(trail).head
    trail.write_text("".join(lines[:1] + lines[2:]))
    with pytest.raises(AuditError, match=r"audit.jsonl:2: entry 3 does not follow entry 1"):
        verify_log(trail)
    trail.write_text("".join([lines[1], lines[0], *lines[2:]]))
    with pytest.raises(AuditError, match=r"audit.jsonl:1: entry 2 does not follow entry 0"):
        verify_log(trail)
    trail.write_text("".join(lines[:4]))  # the last removed: a shorter chain that holds, but not up to the head
    assert verify_log(trail).entries == 4
    with pytest.raises(AuditError, match="no entry has the head given"):
        verify_log(trail, head=head)
    trail.write_text("".join(lines) + "not json\n")
    with pytest.raises(AuditError, match=r"audit.jsonl:6: not an audit entry"):
        verify_log(trail)


def test_a_broken_trail_fails_the_cli_with_the_line(tmp_path: Path, trail: Path) -> None:
    lines = _lines(trail)
    trail.write_text("".join(lines[:3] + lines[4:]))
    done = _cli(tmp_path, "privacy", "audit", "verify", "--log", str(trail))
    assert done.returncode == 2
    assert "audit.jsonl:4: entry 5 does not follow entry 3" in done.stderr


def test_secrets_are_masked_in_the_command_line() -> None:
    url = "postgresql://ann:s3cret@db:5432/cdm"
    argv = ["carelake", "-w", url, "x", "--password", "pw1", "--token=tk", "--secret-file", "k"]
    masked = [
        "carelake",
        "-w",
        url.replace("s3cret", "***"),
        "x",
        "--password",
        "***",
        "--token=***",
        "--secret-file",
        "k",
    ]
    assert masked_command(argv) == masked
    assert masked_url("duckdb:///a.duckdb") == "duckdb:///a.duckdb"


def test_a_command_after_a_broken_last_line_is_refused_before_it_runs(tmp_path: Path, trail: Path) -> None:
    trail.write_text(trail.read_text() + '{"seq": 6, "edited by hand"\n')
    done = _cli(tmp_path, "info")
    assert done.returncode == 2 and "its last line is not an audit entry" in done.stderr
    assert done.stdout == ""  # refused before it ran
    assert len(_lines(trail)) == 6
