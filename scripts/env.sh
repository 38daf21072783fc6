# Sourced by run.sh and test.sh: create or reuse .venv and install REQS when they changed.
REQS="${1:-requirements.txt}"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv…" >&2
  "$PY" -m venv .venv
fi
STAMP=".venv/.installed-$(basename "$REQS")"
HASH=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  # one install at a time (a second shell waits for the first), and the stamp only when pip succeeded
  exec 9>.venv/.install.lock
  command -v flock >/dev/null 2>&1 && flock 9
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
    echo "installing $REQS (first time takes a few minutes)…" >&2
    PIP_STATUS=0
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQS" > .venv/.install.log 2>&1 \
      || PIP_STATUS=$?
    grep -v "is ignored: it is neither a file nor a directory" .venv/.install.log >&2 || true
    if [ "$PIP_STATUS" -ne 0 ]; then
      exec 9>&-
      echo "error: installing $REQS failed (pip's messages are above); fix what they name and run the command again" >&2
      return 1 2>/dev/null || exit 1
    fi
    echo "$HASH" > "$STAMP"
  fi
  exec 9>&-
fi
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
