#!/bin/bash
# apis/django-newsroom.pcap: a newspaper API built with Django + Django REST
# framework (OpenAPI by drf-spectacular), served by gunicorn (gthread worker)
# on 127.0.0.1:8001, driven by apis/django/client.py (several actors on
# keep-alive connections from 127.0.0.1, .2 and .3). Also writes
# django-newsroom.openapi.json (drf-spectacular's document from
# /api/schema/, fetched before the capture starts),
# django-newsroom.truth.tsv and django-newsroom.requests.tsv.
# Installs the pinned packages into apis/django/.venv first (needs PyPI).
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
record_api $NAME $PORT "http://127.0.0.1:$PORT/api/schema/?format=json" \
    "$V/python" "$APIS_DIR/django/client.py"
