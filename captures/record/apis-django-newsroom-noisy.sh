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
# The same script as apis-django-newsroom.sh, recording the noisy capture.
NOISY=1 exec bash "$(dirname "$0")/apis-django-newsroom.sh" "$@"
