#!/usr/bin/env bash
# Profile-guided release build of the sensor: builds it instrumented, runs it over recorded
# traffic, and builds it again with what that run measured (which branches are taken, which
# calls are hot), so the compiler lays the hot paths out straight. On the benchmark captures
# this made the flow worker 13-18% and the inventory thread 8-17% cheaper than the plain
# release build, with the same results (deploy/README.md, "Sizing").
#
#   scripts/build-pgo.sh [--or-plain] [CAPTURE...]
#
# The training traffic is every capture under captures/ (recorded from real servers and
# clients, with the testkit's small synthetic edge cases; none of the benchmark's generated
# traffic), each analysed with the store as the
# sensor runs, once with one flow worker and once with two. Add CAPTUREs of your own traffic
# (a few minutes of the mirror port, `tcpdump -w`) to train on what your sensor will see.
#
# Needs llvm-profdata of the LLVM that rustc uses (`rustc -vV`): `rustup component add
# llvm-tools`, or Debian's llvm-N. With --or-plain and no such tool, builds the plain release
# instead (what the bench scripts do), as it does with APISONAR_BUILD=plain in the environment.
# Prints the binary's path on standard output (everything else goes to standard error):
# target/pgo/apisonar, or target/release/apisonar.
set -euo pipefail
OR_PLAIN=0
if [ "${1:-}" = "--or-plain" ]; then
  OR_PLAIN=1
  shift
fi
# The captures given are named from where the script was started.
EXTRA=()
for capture in "$@"; do
  EXTRA+=("$(realpath -e "$capture")") || { echo "build-pgo: no such capture: $capture" >&2; exit 2; }
done
cd "$(dirname "$0")/.."
HOST=$(rustc -vV | sed -n 's/^host: //p')
LLVM_MAJOR=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')

profdata() { # the first llvm-profdata of rustc's LLVM major version
  local tool
  for tool in "$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata" "llvm-profdata-$LLVM_MAJOR" llvm-profdata; do
    if command -v "$tool" >/dev/null 2>&1 && "$tool" --version 2>/dev/null | grep -q "LLVM version $LLVM_MAJOR\."; then
      echo "$tool"
      return 0
    fi
  done
  return 1
}

plain() {
  cargo build --release --locked -q -p apisonar >&2
  echo target/release/apisonar
  exit 0
}
if [ "$OR_PLAIN" = 1 ] && [ "${APISONAR_BUILD:-}" = plain ]; then
  plain
fi
if ! PROFDATA=$(profdata); then
  if [ "$OR_PLAIN" = 1 ]; then
    echo "build-pgo: no llvm-profdata for LLVM $LLVM_MAJOR; building the plain release" >&2
    plain
  fi
  echo "build-pgo: needs llvm-profdata of LLVM $LLVM_MAJOR (rustc's): rustup component add llvm-tools, or apt-get install llvm-$LLVM_MAJOR" >&2
  exit 2
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# With --target, RUSTFLAGS reach only the target's crates, not build scripts or proc macros
# (which would otherwise write profiles while they build).
build() { # target-dir rustflags
  RUSTFLAGS="${RUSTFLAGS:-} $2" cargo build --release --locked -q -p apisonar --target "$HOST" --target-dir "$1" >&2
}

# The profiles' directory is part of RUSTFLAGS: a fixed one lets cargo reuse the instrumented
# build when nothing changed.
PROFILES="$PWD/target/pgo-gen/profiles"
echo "build-pgo: instrumented build (target/pgo-gen)" >&2
build target/pgo-gen "-Cprofile-generate=$PROFILES"
rm -rf "$PROFILES"
TRAINER="target/pgo-gen/$HOST/release/apisonar"
mapfile -t CAPTURES < <(find captures -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
CAPTURES+=("${EXTRA[@]}")
echo "build-pgo: training on ${#CAPTURES[@]} captures" >&2
for capture in "${CAPTURES[@]}"; do
  [ -r "$capture" ] || { echo "build-pgo: cannot read $capture" >&2; exit 2; }
  rm -rf "$WORK/db"
  "$TRAINER" analyze --db "$WORK/db" "$capture" >/dev/null 2>&1 || echo "build-pgo: analyze failed on $capture" >&2
  rm -rf "$WORK/db"
  "$TRAINER" run -r "$capture" --db "$WORK/db" --workers 2 --status-interval 0 >/dev/null 2>&1 \
    || echo "build-pgo: run -r failed on $capture" >&2
done
mkdir -p target/pgo
"$PROFDATA" merge -o target/pgo/merged.profdata "$PROFILES"

echo "build-pgo: optimised build (target/pgo)" >&2
build target/pgo "-Cprofile-use=$PWD/target/pgo/merged.profdata"
cp "target/pgo/$HOST/release/apisonar" target/pgo/apisonar
echo target/pgo/apisonar
