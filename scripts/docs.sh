#!/usr/bin/env bash
# Serve the documentation site with its search on http://127.0.0.1:8000 (arguments go on to `mkdocs serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh requirements-docs.txt
exec mkdocs serve "$@"
