#!/bin/sh
# Installs the runtime interface client python functions run with into a
# managed runtime directory (ProcessConfig::python_runtime_dir), as
# updraft_runtime_process::install_awslambdaric does.
#   usage: install-awslambdaric.sh DIR [PYTHON]
set -eu
DIR=${1:?usage: install-awslambdaric.sh DIR [PYTHON]}
PYTHON=${2:-python3}
VERSION=4.2.2 # keep in sync with AWSLAMBDARIC_VERSION in src/python.rs
if [ "$(cat "$DIR/.updraft-awslambdaric" 2>/dev/null)" = "$VERSION" ]; then
    exit 0
fi
STAGING="$DIR.staging.$$"
rm -rf "$STAGING"
PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check \
    --no-warn-script-location --target "$STAGING" "awslambdaric==$VERSION"
printf '%s' "$VERSION" > "$STAGING/.updraft-awslambdaric"
rm -rf "$DIR"
mv "$STAGING" "$DIR"
