#!/bin/bash
# graphql-api.pcap: graphql_server.py (strawberry-graphql schema, strawberry's ASGI
# view, served by uvicorn with h11) on 127.0.0.1:8300, endpoint /graphql;
# graphql_client.py (python http.client) sends 11 requests on ONE keep-alive
# connection: named queries with variables, two root fields, a mutation with a
# nested input object, an anonymous query, a GET with the query in the URL, a
# batch (JSON array of 2 operations), an automatic persisted query (hash only,
# then hash + query), the standard introspection query, a syntax error and a
# validation error (unknown field).
# Also writes the schema as SDL to captures/graphql/schema.graphql, WITHOUT the
# Mutation.addOrder field (an operation the capture uses but the document does not
# describe); pass a second argument to write the SDL elsewhere.
# Needs strawberry-graphql, uvicorn and graphql-core in $PY
# (pip install strawberry-graphql uvicorn graphql-core).
. "$(dirname "$0")/lib.sh"
need_python "strawberry, uvicorn, graphql" "strawberry-graphql uvicorn graphql-core"
enter_netns "$@"
setup_lo

OUT=${1:-$CAP_DIR/graphql-api.pcap}
SDL=${2:-$CAP_DIR/graphql/schema.graphql}
mkdir -p "$(dirname "$SDL")"
"$PY" "$REC_DIR/graphql_server.py" --print-schema >"$TMP/full.graphql"
# drop the addOrder field from "type Mutation" (its input types stay)
grep -v '^  addOrder(input: OrderInput!): Order!$' "$TMP/full.graphql" >"$SDL"
if [ "$(wc -l <"$TMP/full.graphql")" -ne $(($(wc -l <"$SDL") + 1)) ]; then
    echo "addOrder not found in the printed schema" >&2; exit 1
fi

bg "$PY" "$REC_DIR/graphql_server.py" 8300
wait_port 8300

start_capture "$OUT" -i lo
"$PY" "$REC_DIR/graphql_client.py" 8300
stop_capture
report "$OUT"
