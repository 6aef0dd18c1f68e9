"""mypy refuses wrong messages and replies: runs mypy on ``expected_errors.py`` and checks that
it reports exactly the errors marked there (``# error: <code>`` at the end of a line)."""

from __future__ import annotations

import re
from pathlib import Path

from mypy import api

HERE = Path(__file__).resolve().parent
CASES = HERE / "expected_errors.py"
PYPROJECT = HERE.parents[1] / "pyproject.toml"
MARK = re.compile(r"#\s*error:\s*([a-z-]+)\s*$")
REPORTED = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def expected() -> set[tuple[int, str]]:
    lines = CASES.read_text().splitlines()
    return {(n, m.group(1)) for n, line in enumerate(lines, 1) if (m := MARK.search(line))}


def test_mypy_reports_every_marked_error_and_nothing_else() -> None:
    marked = expected()
    assert len(marked) >= 10, "the cases file lost its markers"
    stdout, stderr, _ = api.run(
        [str(CASES), "--config-file", str(PYPROJECT), "--no-error-summary", "--no-pretty"]
    )
    assert not stderr, stderr
    reported = {
        (int(m["line"]), m["code"])
        for line in stdout.splitlines()
        if (m := REPORTED.match(line)) and Path(m["path"]).name == CASES.name
    }
    other_files = [
        line for line in stdout.splitlines() if ": error:" in line and CASES.name not in line
    ]
    assert not other_files, "mypy found errors outside the cases file:\n" + "\n".join(other_files)
    assert sorted(marked - reported) == [], f"not reported by mypy:\n{stdout}"
    assert sorted(reported - marked) == [], f"reported but not marked:\n{stdout}"
