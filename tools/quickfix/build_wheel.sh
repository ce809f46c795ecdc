#!/usr/bin/env bash
# Builds the patched QuickFIX wheel (quickfix 1.16.0+rfq<N>, see patch_sources.py) into a wheelhouse.
# Usage: tools/quickfix/build_wheel.sh PYTHON WHEELHOUSE
# The wheel is reused while the patch script is unchanged (its hash names the wheelhouse folder).
set -euo pipefail
PYTHON="$1"
WHEELHOUSE="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ls "$WHEELHOUSE"/quickfix-1.16.0+rfq*.whl >/dev/null 2>&1; then
    exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "==> building QuickFIX 1.16.0 with the project's socket-lifetime fix (compiles C++, ~8 min on 2 cores)"
"$PYTHON" -m pip download --quiet --no-binary :all: --no-deps quickfix==1.16.0 -d "$WORK"
tar xzf "$WORK"/quickfix-1.16.0.tar.gz -C "$WORK"
"$PYTHON" "$HERE/patch_sources.py" "$WORK/quickfix-1.16.0"
mkdir -p "$WHEELHOUSE"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$WHEELHOUSE" "$WORK/quickfix-1.16.0"
