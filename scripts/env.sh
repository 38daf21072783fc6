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
  echo "installing $REQS (first time takes a few minutes)…" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQS" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
  echo "$HASH" > "$STAMP"
fi
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
