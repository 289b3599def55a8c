#!/usr/bin/env bash
# The second test environment: the NEWEST scientific stack from the package
# index, for aam_core and the `aam` command (which import no QIIME 2).
#
#   scripts/bootstrap-newest.sh            # build or check $NEWEST_VENV
#   scripts/bootstrap-newest.sh --refresh  # re-resolve the newest releases and
#                                          # rewrite scripts/newest-stack.txt
#
# $NEWEST_VENV (default <repo>/.venv-newest) is a plain venv on
# /usr/bin/python3 WITHOUT --system-site-packages: nothing in it can see, or
# replace, the Debian QIIME 2 stack of .venv. Its packages are the exact
# versions of scripts/newest-stack.txt (what `make test` ran against; written
# by --refresh from the newest releases of the packages in TOP_LEVEL), so a
# fresh machine tests the same stack as this one.
#
# Idempotent and fast on re-runs: a stamp of the lock file, setup.py and the
# interpreter skips everything when nothing changed (< 1 s). Wheels are kept in
# $NEWEST_WHEELS (default <repo>/.wheels-newest, git-ignored), so rebuilding
# the venv (make distclean) needs no network. torch comes from $WHEELS
# (/opt/wheels, a CPU build) when that folder exists; torch is pinned, as an
# unpinned torch resolves to the multi-GB CUDA build.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NEWEST_VENV=${NEWEST_VENV:-$ROOT/.venv-newest}
NEWEST_WHEELS=${NEWEST_WHEELS:-$ROOT/.wheels-newest}
WHEELS=${WHEELS:-/opt/wheels}
TORCH_SPEC=${TORCH_SPEC:-2.13.0}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
LOCK=$ROOT/scripts/newest-stack.txt
PY=$NEWEST_VENV/bin/python
# What "the newest stack" means: these, unpinned (torch pinned, see above).
# onnx and onnxruntime: only for `aam export-onnx` and its test (optional
# for users, so not in setup.py)
TOP_LEVEL=(numpy pandas scipy scikit-bio biom-format h5py optuna pytest onnx onnxruntime
           "torch==$TORCH_SPEC")
# optional: experiment tracking of the aam command (--tensorboard, --mlflow-uri)
TOP_LEVEL+=(mlflow-skinny tensorboard)

TAG=bootstrap-newest
# shellcheck source=scripts/venv-lib.sh
source "$ROOT/scripts/venv-lib.sh"

refresh() {
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    make_venv "$tmp/venv"
    log "refresh: installing the newest ${TOP_LEVEL[*]}"
    pip_in "$tmp/venv/bin/python" install -q "${find_links[@]}" "${TOP_LEVEL[@]}"
    write_lock "$tmp/venv/bin/python" \
        "The newest-stack test environment (.venv-newest) of \`make test\`"
    cat "$LOCK" >&2
}

stamp_of() {
    { cat "$LOCK" "$ROOT/setup.py"; "$SYSTEM_PYTHON" -V; echo "$NEWEST_WHEELS"; } \
        | sha256sum | cut -d' ' -f1
}

build() {
    local stamp=$NEWEST_VENV/.newest-stack.sha256 want t0=$SECONDS
    want=$(stamp_of)
    if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "ready: $NEWEST_VENV up to date"
        return
    fi
    make_venv "$NEWEST_VENV"
    rm -f "$stamp"
    # Wheels for every pin that is not in $NEWEST_WHEELS yet (torch stays in
    # $WHEELS where that exists), then an install from local files only.
    mkdir -p "$NEWEST_WHEELS"
    if ! pip_in "$PY" install -q --no-index --find-links "$NEWEST_WHEELS" \
            "${find_links[@]}" -r "$LOCK" 2>/dev/null; then
        log "wheels: downloading the pinned stack into $NEWEST_WHEELS"
        local pins
        pins=$(pins_to_fetch)
        pip_in "$PY" download -q --no-deps --only-binary=:all: -d "$NEWEST_WHEELS" \
            -r "$pins" || { rm -f "$pins"; die "could not download the newest stack"; }
        rm -f "$pins"
        pip_in "$PY" install -q --no-index --find-links "$NEWEST_WHEELS" \
            "${find_links[@]}" -r "$LOCK"
    fi
    log "q2-aam: pip install --no-deps -e $ROOT"
    (cd "$ROOT" && pip_in "$PY" install -q --no-deps --no-build-isolation -e .)
    "$PY" -c 'import aam_core.cli, numpy, pandas, scipy, skbio, biom, h5py, torch, onnx, onnxruntime' \
        || die "the newest stack does not import"
    if "$PY" -c 'import qiime2' 2>/dev/null; then
        die "qiime2 is importable in $NEWEST_VENV; it must not be"
    fi
    echo "$want" > "$stamp"
    log "ready in $((SECONDS - t0)) s: $NEWEST_VENV"
}

versions() {
    "$PY" - <<'PYEOF'
import platform
from importlib import metadata
names = ["numpy", "pandas", "scipy", "scikit-bio", "biom-format", "h5py", "torch", "pytest",
         "onnx", "onnxruntime"]
print("[bootstrap-newest] Python " + platform.python_version() + ", "
      + ", ".join(f"{n} {metadata.version(n)}" for n in names))
PYEOF
}

case "${1:-}" in
    --refresh) refresh; build; versions ;;
    "") build; versions ;;
    *) die "usage: $0 [--refresh]" ;;
esac
