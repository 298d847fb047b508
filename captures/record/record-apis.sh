#!/bin/bash
# Re-record the API captures in captures/apis/ (see the README section
# "API captures"). Needs what record-all.sh needs, plus PyPI and the npm
# registry the first time (each script installs its pinned dependencies
# into record/apis/<framework>/.venv or node_modules, outside the network
# namespace). Each recording is retried up to 3 times: check.sh rejects a
# capture with a retransmission, which a busy machine can cause.
set -euo pipefail
cd "$(dirname "$0")"

source lib.sh
run() { run_with_retries 600 "$@"; }

run apis-fastapi-shop.sh
run apis-flask-taskboard.sh
run apis-express-codehost.sh
run apis-django-newsroom.sh
