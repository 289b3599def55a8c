#!/usr/bin/env bash
# Set up everything `make test`, `make demo` and `make bench` need, on Debian 12
# with QIIME 2 2022.11 from Debian packages. Idempotent: each step checks
# whether it is already done and skips itself (a second run takes ~1 s).
#
#   1. Debian packages (QIIME 2, q2cli, plugins used by the demo, venv, pytest)
#   2. virtual environment $VENV on /usr/bin/python3 with --system-site-packages,
#      so QIIME 2 and the scientific stack come from Debian, never from pip
#   3. torch==$TORCH_SPEC (CPU wheel from /opt/wheels when that folder exists)
#   4. `pip install -e .` of this repository (no dependency is pulled)
#   5. $VENV/bin/qiime: q2cli on the venv's interpreter
#   6. `qiime dev refresh-cache` whenever the plugin's code changed
#
# Environment: VENV (default <repo>/.venv), TORCH_SPEC (default 2.13.0),
# WHEELS (default /opt/wheels).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
TORCH_SPEC=${TORCH_SPEC:-2.13.0}
WHEELS=${WHEELS:-/opt/wheels}
SYSTEM_PYTHON=/usr/bin/python3
PY=$VENV/bin/python

APT_PACKAGES=(qiime q2-types q2cli q2-feature-table q2-sample-classifier
              q2templates q2-diversity-lib q2-emperor q2-phylogeny
              python3-matplotlib python3-venv python3-pip python3-pytest)
# Modules that must keep coming from Debian (a pip copy would shadow them).
DEBIAN_MODULES=(numpy pandas scipy biom skbio h5py qiime2 q2cli pytest)

log() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

pip_quiet() { "$PY" -m pip --disable-pip-version-check "$@"; }

step_apt() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "Debian packages: all ${#APT_PACKAGES[@]} installed"
        return
    fi
    log "Debian packages: installing ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${APT_PACKAGES[@]}"
}

step_venv() {
    if [ -x "$PY" ]; then
        grep -q '^include-system-site-packages = true' "$VENV/pyvenv.cfg" \
            || die "$VENV exists without --system-site-packages; remove it (make distclean)"
        log "venv: $VENV exists"
        return
    fi
    log "venv: creating $VENV on $SYSTEM_PYTHON (--system-site-packages)"
    "$SYSTEM_PYTHON" -m venv --system-site-packages "$VENV"
}

installed_version() {  # distribution name -> version, or nothing
    "$PY" - "$1" <<'EOF'
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
EOF
}

step_torch() {
    local have
    have=$(installed_version torch)
    # "2.13.0+cpu" satisfies TORCH_SPEC "2.13.0"; a local label in the spec
    # must match exactly.
    if [ -n "$have" ] && { [ "$have" = "$TORCH_SPEC" ] || [ "${have%%+*}" = "$TORCH_SPEC" ]; }; then
        log "torch: $have installed"
        return
    fi
    local find_links=()
    if [ -d "$WHEELS" ]; then
        find_links=(--find-links "$WHEELS")
    else
        log "torch: no $WHEELS; pip may pick the large CUDA build of torch==$TORCH_SPEC"
    fi
    log "torch: installing torch==$TORCH_SPEC (have: ${have:-none})"
    # Pinned on purpose: an unpinned torch resolves to the multi-GB CUDA build.
    pip_quiet install "${find_links[@]}" "torch==$TORCH_SPEC"
}

check_debian_modules() {
    "$PY" - "${DEBIAN_MODULES[@]}" <<'EOF'
import importlib, sys
bad = []
for name in sys.argv[1:]:
    mod = importlib.import_module(name)
    if not mod.__file__.startswith('/usr/lib/python3/dist-packages/'):
        bad.append(f'{name} from {mod.__file__}')
if bad:
    sys.exit('these must come from Debian, not from the venv: ' + '; '.join(bad))
EOF
}

step_install() {
    local stamp="$VENV/.q2-aam-setup.sha256" want
    want=$(sha256sum "$ROOT/setup.py" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
            && [ -n "$(installed_version q2-aam)" ]; then
        log "q2-aam: editable install up to date"
        return
    fi
    log "q2-aam: pip install -e $ROOT"
    # Every requirement is checked importable first, then installed with
    # --no-deps: Debian registers h5py under another distribution name
    # (h5py.-debian-h5py-serial), so pip's resolver would fetch a second h5py
    # from PyPI for biom-format. --no-build-isolation: build with the venv's
    # setuptools, nothing downloaded.
    "$PY" -c 'import torch, numpy, pandas, scipy, biom, skbio, h5py, matplotlib' \
        || die "a runtime dependency of q2-aam is missing"
    local before after
    before=$(pip_quiet list --format=freeze 2>/dev/null | grep -v '^q2-aam==')
    (cd "$ROOT" && pip_quiet install --no-deps --no-build-isolation --use-pep517 -e .)
    after=$(pip_quiet list --format=freeze 2>/dev/null | grep -v '^q2-aam==')
    [ "$before" = "$after" ] \
        || die "pip install -e . changed other packages: $(diff <(echo "$before") <(echo "$after") || true)"
    echo "$want" > "$stamp"
}

step_qiime_wrapper() {
    local wrapper="$VENV/bin/qiime" tmp
    tmp=$(mktemp)
    # /usr/bin/qiime runs on the system interpreter and cannot see the venv.
    # CONDA_PREFIX is read only by q2cli, to place its cache: pointing it at
    # the venv keeps this cache (which lists the aam plugin) apart from the
    # one of Debian's /usr/bin/qiime.
    cat > "$tmp" <<EOF
#!/bin/sh
# q2cli on the interpreter of this venv (written by scripts/bootstrap.sh)
VENV="\$(cd "\$(dirname "\$0")/.." && pwd)"
export CONDA_PREFIX="\$VENV"
exec "\$VENV/bin/python" -c 'import sys; from q2cli.__main__ import qiime; sys.exit(qiime(prog_name="qiime"))' "\$@"
EOF
    if [ -x "$wrapper" ] && cmp -s "$tmp" "$wrapper"; then
        rm -f "$tmp"
        log "qiime wrapper: $wrapper up to date"
        return
    fi
    install -m 0755 "$tmp" "$wrapper"
    rm -f "$tmp"
    log "qiime wrapper: wrote $wrapper"
}

step_refresh_cache() {
    local stamp="$VENV/.q2cli-cache.stamp"
    if [ -f "$stamp" ] && [ -z "$(find "$ROOT/q2_aam" "$ROOT/setup.py" \
            -newer "$stamp" \( -name '*.py' -o -name '*.bib' \) -print -quit)" ]; then
        log "q2cli cache: up to date"
        return
    fi
    log "q2cli cache: qiime dev refresh-cache"
    # Stamp before running so an edit made during the refresh triggers another.
    touch "$stamp.new"
    if "$VENV/bin/qiime" dev refresh-cache; then
        mv "$stamp.new" "$stamp"
    else
        rm -f "$stamp.new"
        log "q2cli cache: refresh failed (is q2_aam importable?); will retry next run"
        return 1
    fi
}

main() {
    local t0=$SECONDS
    step_apt
    step_venv
    step_torch
    check_debian_modules
    step_install
    step_qiime_wrapper
    step_refresh_cache
    log "ready in $((SECONDS - t0)) s: $VENV"
}

main "$@"
