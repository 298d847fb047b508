#!/bin/bash
# apis/django-newsroom-noisy.pcap: the django-newsroom app (Django REST
# framework on gunicorn, 127.0.0.1:8001) under the same ordinary traffic as
# apis/django-newsroom.pcap (apis/django/client.py, 127.0.0.1-.3) with a
# scanner running beside it (apis/scanner.py from 127.0.0.9: content
# discovery, junk ids, traversal, injection; mostly answered 404). Also writes
# django-newsroom-noisy.requests.tsv (the ordinary client's log) and
# django-newsroom-noisy.scanner.tsv (the scanner's). The route table stays
# django-newsroom.truth.tsv (see record_noisy in apis/lib.sh). Installs the
# pinned packages into apis/django/.venv first (needs PyPI).
. "$(dirname "$0")/lib.sh"
. "$REC_DIR/apis/lib.sh"
if [ -z "${APISONAR_IN_NETNS:-}" ]; then ensure_venv django; fi
enter_netns "$@"
setup_lo

NAME=django-newsroom
PORT=8001
V=$APIS_DIR/django/.venv/bin
mkdir -p "$API_OUT"
bg "$V/gunicorn" --chdir "$APIS_DIR/django" -k gthread --threads 4 -w 1 -b 127.0.0.1:$PORT \
    --keep-alive 30 --no-control-socket --log-level warning newsroom:application
wait_port $PORT
record_noisy $NAME $PORT "http://127.0.0.1:$PORT/api/schema/?format=json" \
    "$V/python" "$APIS_DIR/django/client.py"
