#!/usr/bin/env bash
# The project's two commands, each of which sets itself up first:
#   ./dev.sh demo   run a whole rotation on local emulators, showing before and after
#   ./dev.sh serve  the function on local emulators, in the foreground, for your own requests
#   ./dev.sh test   lint, type-check and run every test
#   ./dev.sh wheel  build the reader's wheel into dist/, for applications to install
# Setup is a virtualenv in .venv with requirements-dev.txt, redone when the requirements change.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=".venv"

setup() {
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "dev.sh: Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  local stamp="$VENV/.requirements.sha256"
  local wanted
  wanted="$(cat requirements.txt requirements-dev.txt reader/pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
  fi
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
    # About 30 s on a first run; say so, rather than sit silent.
    echo "dev.sh: installing the pinned requirements into $VENV (once, or when they change)..." >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    echo "$wanted" >"$stamp"
    echo "dev.sh: $VENV is ready" >&2
  fi
}

run_tests() {
  local bin="$VENV/bin"
  # Tests run tools the venv installs (shellcheck, functions-framework) by name.
  export PATH="$PWD/$VENV/bin:$PATH"
  echo "== ruff"
  "$bin/ruff" check .
  "$bin/ruff" format --check .
  echo "== mypy"
  "$bin/mypy"
  echo "== shellcheck"
  "$bin/shellcheck" deploy.sh dev.sh .ci/run
  echo "== pytest"
  "$bin/python" -m pytest "$@"
}

case "${1:-}" in
  demo) shift; setup; "$VENV/bin/python" -m devtools.demo "$@" ;;
  serve) shift; setup; exec "$VENV/bin/python" -m devtools.serve "$@" ;;
  test) shift; setup; run_tests "$@" ;;
  # pip builds from the source tree, where the reader's wheel finds ../momento_key_common.
  wheel) shift; setup; "$VENV/bin/python" -m pip wheel --quiet --no-deps --wheel-dir dist ./reader "$@"
    ls dist/momento_key_reader-*.whl ;;
  *) echo "usage: ./dev.sh demo [--regional] | ./dev.sh serve [--regional] [--port N ...] | ./dev.sh test [pytest args] | ./dev.sh wheel" >&2; exit 2 ;;
esac
