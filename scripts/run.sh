#!/usr/bin/env bash
# Run Tandem: SQLite, local Chroma and the offline engine by default. The pack is TANDEM_DOMAIN (default: the demo
# company, with its demo world and live simulator); any other pack gets its schema, knowledge index, classifier and
# a first admin on the first run (its password is printed once, below).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh requirements.txt
python -m cx_core setup
python -m cx_core worker &
WORKER=$!
python -m cx_core api --host 127.0.0.1 --port "${TANDEM_API_PORT:-8600}" &
API=$!
trap 'kill "$WORKER" "$API" 2>/dev/null || true' EXIT INT TERM
echo "Tandem is starting on http://127.0.0.1:${TANDEM_PORT:-8501};" \
  "its API on http://127.0.0.1:${TANDEM_API_PORT:-8600}/api/v1/docs" >&2
python app.py --server.address 127.0.0.1 --server.port "${TANDEM_PORT:-8501}" \
  --server.headless true --browser.gatherUsageStats false
