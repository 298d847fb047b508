#!/bin/bash
# apis/flask-taskboard-noisy.pcap: the flask-taskboard app (Flask +
# flask-smorest on waitress, 127.0.0.1:5000) under the same ordinary traffic
# as apis/flask-taskboard.pcap (apis/flask/client.py, 127.0.0.1-.3) with a
# scanner running beside it (apis/scanner.py from 127.0.0.9: content
# discovery, junk ids, traversal, injection; mostly answered 404). Also writes
# flask-taskboard-noisy.requests.tsv (the ordinary client's log) and
# flask-taskboard-noisy.scanner.tsv (the scanner's). The route table stays
# flask-taskboard.truth.tsv (see record_noisy in apis/lib.sh). Installs the
# pinned packages into apis/flask/.venv first (needs PyPI).
# The same script as apis-flask-taskboard.sh, recording the noisy capture.
NOISY=1 exec bash "$(dirname "$0")/apis-flask-taskboard.sh" "$@"
