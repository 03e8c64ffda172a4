#!/usr/bin/env bash
# Run the test suite: bash scripts/test.sh [pytest args...]
# Creates .venv if missing, installs the project with its test extras, runs pytest spread over
# twice the machine's CPUs, at most 8 (pytest-xdist): the end-to-end tests mostly wait on I/O, so
# on 2 CPUs 4 workers run the whole suite in about 10 minutes (6 were slower). PYTEST_WORKERS=0 runs everything in one
# process, e.g. to debug one test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv .venv; then
        rm -rf .venv
        echo "ERROR: '$PYTHON -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

# -q keeps pip quiet but still prints errors.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

cpus="$(nproc 2>/dev/null || echo 2)"
workers="$(( cpus * 2 < 8 ? cpus * 2 : 8 ))"
status=0
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-$workers}" "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "ERROR: pytest collected no tests (exit 5); treating this as a failure" >&2
    exit 1
fi
exit "$status"
