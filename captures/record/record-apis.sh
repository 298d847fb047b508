#!/bin/bash
# Re-record the API captures in captures/apis/ (see the README section
# "API captures"): the four clean captures, then their noisy variants
# (<name>-noisy.pcap: the same traffic with apis/scanner.py beside it), which
# reuse the clean captures' spec, truth and request log. Needs what
# record-all.sh needs, plus PyPI and the npm registry the first time (each
# script installs its pinned dependencies into record/apis/<framework>/.venv
# or node_modules, outside the network namespace). Each recording is retried
# up to 3 times: check.sh rejects a capture with a retransmission, which a
# busy machine can cause. With --noisy, only the noisy variants are recorded.
set -euo pipefail
cd "$(dirname "$0")"

source lib.sh
run() { run_with_retries 600 "$@"; }

if [ "${1:-}" != --noisy ]; then
    run apis-fastapi-shop.sh
    run apis-flask-taskboard.sh
    run apis-express-codehost.sh
    run apis-django-newsroom.sh
fi
run apis-fastapi-shop-noisy.sh
run apis-flask-taskboard-noisy.sh
run apis-express-codehost-noisy.sh
run apis-django-newsroom-noisy.sh
