#!/bin/sh
# Installs the AWS SDK for JavaScript v3 that Node.js handlers import
# without bundling it into a managed runtime directory
# (ProcessConfig::node_runtime_dir), as
# updraft_runtime_process::install_node_sdk does.
#   usage: install-node-sdk.sh DIR [NPM]
set -eu
DIR=${1:?usage: install-node-sdk.sh DIR [NPM]}
NPM=${2:-npm}
# keep in sync with NODE_SDK_VERSION and NODE_SDK_PACKAGES in src/node.rs
V=3.1178.0
PINNED="@aws-sdk/client-s3@$V @aws-sdk/client-dynamodb@$V @aws-sdk/lib-dynamodb@$V @aws-sdk/client-sqs@$V @aws-sdk/client-lambda@$V @aws-sdk/client-sfn@$V @aws-sdk/client-eventbridge@$V"
if [ "$(cat "$DIR/.updraft-node-sdk" 2>/dev/null)" = "$PINNED" ] && [ -d "$DIR/node_modules/@aws-sdk" ]; then
    exit 0
fi
STAGING="$DIR.staging.$$"
rm -rf "$STAGING"
mkdir -p "$STAGING"
"$NPM" install --prefix "$STAGING" --no-save --omit=dev --no-audit --no-fund \
    --no-package-lock --no-update-notifier --loglevel=error $PINNED
printf '%s' "$PINNED" > "$STAGING/.updraft-node-sdk"
rm -rf "$DIR"
mv "$STAGING" "$DIR"
