#!/usr/bin/env bash
# Runs moto's DynamoDB test suite (from the moto sdist on PyPI, never
# copied into this repository) in server mode against the tables crate
# behind examples/serve.rs, and prints pytest's summary. Needs python3
# with boto3, pytest and freezegun.
#
#   crates/tables/conformance/moto.sh [moto-version]
#
# The pass count and the accepted failures are recorded in
# crates/tables/CONFORMANCE.md.
set -euo pipefail
version="${1:-5.2.1}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$work" && pip download --quiet --no-deps --no-binary :all: "moto==$version" -d . && tar xzf moto-*.tar.gz)
cargo build --quiet -p updraft-tables --example serve
port=5055
"${CARGO_TARGET_DIR:-$here/../../../target}/debug/examples/serve" "127.0.0.1:$port" "$work/data" &
server=$!
sleep 1

cd "$work/moto-$version"
TEST_SERVER_MODE=true TEST_SERVER_MODE_ENDPOINT="http://127.0.0.1:$port" \
AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  python3 -m pytest -q --color=no --tb=no -rf -p no:cacheprovider tests/test_dynamodb/ "${@:2}" || true
