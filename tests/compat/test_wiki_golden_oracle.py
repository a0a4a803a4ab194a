"""The golden wiki cases are what the real Trac 1.6 renders (apart from the cases marked
``keep``, which say in their file why codeyard differs)."""

from __future__ import annotations

import glob
import os
import subprocess

from tests.support.trac import REPO_ROOT


def test_golden_cases_match_trac(trac):
    files = sorted(glob.glob(os.path.join(REPO_ROOT, "tests", "unit", "wiki", "golden", "*.txt")))
    assert len(files) >= 5
    done = subprocess.run([trac.python, os.path.join(REPO_ROOT, "tools", "trac_oracle.py"),
                           "--check", *files], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_the_check_catches_a_wrong_expectation(trac, tmp_path):
    source = os.path.join(REPO_ROOT, "tests", "unit", "wiki", "golden", "inline.txt")
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    assert "<strong>" in text
    bad = tmp_path / "inline.txt"
    bad.write_text(text.replace("<strong>", "<b>", 1), encoding="utf-8")
    done = subprocess.run([trac.python, os.path.join(REPO_ROOT, "tools", "trac_oracle.py"),
                           "--check", str(bad)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and "differs" in done.stdout
