#!/usr/bin/env bash
# Lint and type check (issue 10, section 7): ruff check, ruff format --check, mypy lite_world.
# Rules and settings live in pyproject.toml ([tool.ruff], [tool.mypy]). Runs every step and
# fails at the end if any failed. `make test` (hence CI) runs it first; `make lint` runs it alone.
#
# Usage: bash .ci/lint.sh            Env: PYTHON (default .venv/bin/python)
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
for mod in ruff mypy; do
  if ! "$PY" -m "$mod" --version >/dev/null 2>&1; then
    echo "lint: Expects $mod in $PY, actual: missing. Install it with: $PY -m pip install -e '.[test]'" >&2
    exit 1
  fi
done
failed=()
run() {
  echo "lint: $*"
  "$@" || failed+=("$*")
}
run "$PY" -m ruff check --output-format concise .
run "$PY" -m ruff format --check .
run "$PY" -m mypy lite_world
if [ ${#failed[@]} -gt 0 ]; then
  printf 'lint: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "lint: OK"
