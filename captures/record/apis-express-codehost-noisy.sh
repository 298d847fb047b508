#!/bin/bash
# apis/express-codehost-noisy.pcap: the express-codehost app (Express 5 on
# Node's http server, 127.0.0.1:3000) under the same ordinary traffic as
# apis/express-codehost.pcap (apis/express/client.py, 127.0.0.1-.3) with a
# scanner running beside it (apis/scanner.py from 127.0.0.9: content
# discovery, junk ids, traversal, injection; mostly answered 404). Also writes
# express-codehost-noisy.requests.tsv (the ordinary client's log) and
# express-codehost-noisy.scanner.tsv (the scanner's). The route table stays
# express-codehost.truth.tsv (see record_noisy in apis/lib.sh). Installs the
# locked npm packages into apis/express/node_modules first (needs the npm
# registry).
# The same script as apis-express-codehost.sh, recording the noisy capture.
NOISY=1 exec bash "$(dirname "$0")/apis-express-codehost.sh" "$@"
