#!/bin/bash
# apis/fastapi-shop-noisy.pcap: the fastapi-shop app (FastAPI on uvicorn,
# 127.0.0.1:8000) under the same ordinary traffic as apis/fastapi-shop.pcap
# (apis/fastapi/client.py, 127.0.0.1-.3) with a scanner running beside it
# (apis/scanner.py from 127.0.0.9: content discovery, junk ids, traversal,
# injection; mostly answered 404). Also writes fastapi-shop-noisy.requests.tsv
# (the ordinary client's log) and fastapi-shop-noisy.scanner.tsv (the
# scanner's). The route table stays fastapi-shop.truth.tsv (see
# record_noisy in apis/lib.sh). Installs the pinned packages into
# apis/fastapi/.venv first (needs PyPI).
# The same script as apis-fastapi-shop.sh, recording the noisy capture.
NOISY=1 exec bash "$(dirname "$0")/apis-fastapi-shop.sh" "$@"
