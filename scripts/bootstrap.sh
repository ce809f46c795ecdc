# Sourced by scripts/demo and scripts/test: makes .venv and installs the project
# (editable, with test extras) when missing or when pyproject.toml changed.
# quickfix has no binary wheel on PyPI and 1.16.0 needs a fix to its socket handling
# (tools/quickfix/patch_sources.py): the first install downloads its source, patches and
# compiles it (~8 min) into a wheel cached under ~/.cache/rfq-gateway, so later installs
# (and fresh clones on the same machine) take seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
    echo "rfq-gateway needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
QUICKFIX_PATCH_HASH=$(sha256sum tools/quickfix/patch_sources.py | cut -c1-12)
STAMP=.venv/.installed-$(cat pyproject.toml tools/quickfix/patch_sources.py | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ]; then
    echo "==> installing rfq-gateway and its dependencies into .venv (first time: quickfix compiles, ~8 min)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    WHEELHOUSE="${RFQ_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/rfq-gateway/quickfix-$QUICKFIX_PATCH_HASH}"
    tools/quickfix/build_wheel.sh .venv/bin/python "$WHEELHOUSE"
    .venv/bin/python -m pip install --quiet --no-deps --force-reinstall "$WHEELHOUSE"/quickfix-1.16.0+rfq*.whl
    .venv/bin/python -m pip install --quiet -e '.[test]'
    rm -f .venv/.installed-*
    touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
