# Sourced by scripts/demo and scripts/check: make .venv with the project installed.
# Re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LETTA_ACTORS_VENV:-$ROOT/.venv}"
EXTRAS="${1:-test}"

pick_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "letta-actors needs Python >= 3.11 (python3.11 or newer on PATH)" >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    PYTHON="$(pick_python)"
    echo "==> creating virtualenv $VENV with $PYTHON" >&2
    "$PYTHON" -m venv "$VENV"
fi

STAMP="$VENV/.letta-actors-installed-$EXTRAS"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "==> installing letta-actors[$EXTRAS] into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$EXTRAS]"
    echo "$WANT" >"$STAMP"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
