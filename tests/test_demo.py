"""The federation as real processes on loopback: ``registry demo --once`` starts the trust
anchor and two provincial nodes (Jiangsu, Anhui) as separate processes, each with its
own SQLite database and keys, served over https with the demo's certificate authority;
an Anhui HR client verifies a Jiangsu title (valid) and a revoked one (invalid)."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from pathlib import Path

from registry.demo import ANCHOR_PORT, NODES


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _base_port() -> int:
    for _ in range(200):
        base = random.randrange(20_000, 60_000)
        ports = [base] + [NODES[p][1] + base - ANCHOR_PORT for p in ("32", "34")]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free ports")


def test_demo_verifies_across_provinces_with_real_processes_over_https(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    command = [
        str(Path(sys.executable).parent / "registry"),
        "demo",
        "--folder",
        str(folder),
        "--once",
        "--provinces",
        "32,34",
        "--base-port",
        str(_base_port()),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "结论 verdict: 有效 valid" in out
    assert "结论 verdict: 无效 invalid" in out
    # Answered in Anhui's terms: its policy v1 recognises Jiangsu's titles as the same type.
    assert "认可 recognition: 在安徽省认可为" in out
    assert "（认可政策第1版）" in out
    assert "revoked by 江苏省" in out
    assert "a member of the federation" in out
    assert (folder / "tls" / "ca.pem").exists()
    # Each entity has its own database.
    assert all((folder / name / "registry.db").exists() for name in ("anchor", "jiangsu", "anhui"))
    # Run again on the same folder: it reuses what it made and agrees.
    again = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
