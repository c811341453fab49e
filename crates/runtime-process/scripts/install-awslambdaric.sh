#!/bin/sh
# Installs the runtime interface client python functions run with, and the
# boto3 handlers import, into a managed runtime directory
# (ProcessConfig::python_runtime_dir), as
# updraft_runtime_process::install_awslambdaric does.
#   usage: install-awslambdaric.sh DIR [PYTHON]
set -eu
DIR=${1:?usage: install-awslambdaric.sh DIR [PYTHON]}
PYTHON=${2:-python3}
# keep in sync with AWSLAMBDARIC_VERSION and BOTO3_VERSION in src/python.rs
PINNED="awslambdaric==4.2.2 boto3==1.43.11 botocore==1.43.11"
if [ "$(cat "$DIR/.updraft-awslambdaric" 2>/dev/null)" = "$PINNED" ]; then
    exit 0
fi
STAGING="$DIR.staging.$$"
rm -rf "$STAGING"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check \
    --no-warn-script-location --target "$STAGING" $PINNED
printf '%s' "$PINNED" > "$STAGING/.updraft-awslambdaric"
rm -rf "$DIR"
mv "$STAGING" "$DIR"
