#!/usr/bin/env bash
# The third test environment: the plugin on the framework of QIIME 2 2026.4,
# `rachis` 2026.4.0 from the package index, with the newest numpy, pandas
# (the newest 2.x: rachis requires pandas < 3), scipy, scikit-bio and torch.
# What ran there and what it showed: docs/newest-qiime2.md.
#
#   scripts/bootstrap-rachis.sh            # build or check $RACHIS_VENV
#   scripts/bootstrap-rachis.sh --refresh  # re-resolve the newest releases and
#                                          # rewrite scripts/rachis-stack.txt
#
# $RACHIS_VENV (default <repo>/.venv-rachis) is a plain venv on
# /usr/bin/python3 WITHOUT --system-site-packages: nothing in it can see, or
# replace, Debian's QIIME 2 (.venv). Its packages are the exact versions of
# scripts/rachis-stack.txt; wheels are kept in $RACHIS_WHEELS (default
# <repo>/.wheels-newest, the cache the newest stack uses too).
#
# Python is Debian's 3.11, not the 3.12 of QIIME 2 2026.4: the CPU build of
# torch is in $WHEELS (/opt/wheels) for cp311 only, and the index's cp312
# torch is the CUDA build with several GB of nvidia-* packages. rachis
# 2026.4.0 requires Python >= 3.10.
#
# Stand-ins for what the package index does not have (QIIME 2's plugins and
# q2cli are conda packages only), in $RACHIS_VENV/standins, on sys.path by
# a .pth file:
#   - qiime2/: scripts/qiime2_alias.py, the import name `qiime2` as an alias
#     of `rachis` (the rachis wheel holds only `rachis`; see that file);
#   - COPIES of Debian's 2022.11 q2-types, q2-feature-table (q2-sample-
#     classifier's plugin imports it), q2-sample-classifier, q2templates and
#     q2cli with their .egg-info (entry points), from $DEBIAN_SITE, which
#     scripts/bootstrap.sh installs. Copies, so that nothing is written into
#     Debian's folders. They are 2022.11 code on pandas 2 / numpy 2 /
#     scikit-bio 0.7; their failures are theirs (docs/newest-qiime2.md).
# $RACHIS_VENV/bin/qiime is q2cli on this venv, its cache in $RACHIS_VENV/var.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RACHIS_VENV=${RACHIS_VENV:-$ROOT/.venv-rachis}
RACHIS_WHEELS=${RACHIS_WHEELS:-$ROOT/.wheels-newest}
WHEELS=${WHEELS:-/opt/wheels}
TORCH_SPEC=${TORCH_SPEC:-2.13.0}
SYSTEM_PYTHON=${SYSTEM_PYTHON:-/usr/bin/python3}
DEBIAN_SITE=${DEBIAN_SITE:-/usr/lib/python3/dist-packages}
LOCK=$ROOT/scripts/rachis-stack.txt
ALIAS=$ROOT/scripts/qiime2_alias.py
PY=$RACHIS_VENV/bin/python
STANDINS=(q2_types q2_feature_table q2_sample_classifier q2templates q2cli)
# What "the newest stack on rachis" means: these, unpinned but for rachis
# and torch (an unpinned torch resolves to the multi-GB CUDA build).
# scikit-learn ... ijson: what the stand-in plugins import. click < 8.2 for
# the stand-in q2cli 2022.11, which sets Option.is_bool_flag, read-only in
# newer click ("property 'is_bool_flag' ... has no setter").
TOP_LEVEL=(rachis==2026.4.0 numpy pandas scipy scikit-bio biom-format h5py pytest
           "torch==$TORCH_SPEC" matplotlib scikit-learn seaborn jinja2 joblib pyyaml
           ijson decorator "click<8.2")

TAG=bootstrap-rachis
# shellcheck source=scripts/venv-lib.sh
source "$ROOT/scripts/venv-lib.sh"

egg_info_of() {  # the .egg-info folder of a Debian package: q2_types-2022.11.1.egg-info
    local found
    found=$(ls -d "$DEBIAN_SITE/$1"-*.egg-info 2>/dev/null | head -n 1)
    [ -n "$found" ] || die "no $DEBIAN_SITE/$1-*.egg-info: run scripts/bootstrap.sh first"
    echo "$found"
}

REFRESH_TMP=
refresh() {
    local tmp
    tmp=$(mktemp -d)
    REFRESH_TMP=$tmp
    trap 'rm -rf "$REFRESH_TMP"' EXIT
    make_venv "$tmp/venv"
    log "refresh: installing the newest ${TOP_LEVEL[*]}"
    pip_in "$tmp/venv/bin/python" install -q "${find_links[@]}" "${TOP_LEVEL[@]}"
    write_lock "$tmp/venv/bin/python" \
        "The rachis test environment (.venv-rachis, make test-rachis)"
}

stamp_of() {
    local p
    {
        cat "$LOCK" "$ROOT/setup.py" "$ALIAS" "${BASH_SOURCE[0]}"
        "$SYSTEM_PYTHON" -V
        echo "$RACHIS_WHEELS"
        for p in "${STANDINS[@]}"; do basename "$(egg_info_of "$p")"; done
    } | sha256sum | cut -d' ' -f1
}

install_standins() {
    local standins=$RACHIS_VENV/standins p site
    rm -rf "$standins"
    mkdir -p "$standins/qiime2"
    cp "$ALIAS" "$standins/qiime2/__init__.py"
    for p in "${STANDINS[@]}"; do
        [ -d "$DEBIAN_SITE/$p" ] || die "no $DEBIAN_SITE/$p: run scripts/bootstrap.sh first"
        # -L: Debian links some assets (q2templates: bootstrap, jquery) to
        # /usr/share/javascript; the copy holds the files themselves
        cp -rL "$DEBIAN_SITE/$p" "$(egg_info_of "$p")" "$standins/"
    done
    find "$standins" -name __pycache__ -type d -prune -exec rm -rf {} +
    site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$standins" > "$site/aam-rachis-standins.pth"
    # q2cli on this venv's interpreter; its cache under $RACHIS_VENV/var.
    cat > "$RACHIS_VENV/bin/qiime" <<'EOF'
#!/bin/sh
# q2cli (Debian's 2022.11, a stand-in) on rachis (written by scripts/bootstrap-rachis.sh)
VENV="$(cd "$(dirname "$0")/.." && pwd)"
export CONDA_PREFIX="$VENV"
exec "$VENV/bin/python" -c 'import sys; from q2cli.__main__ import qiime; sys.exit(qiime(prog_name="qiime"))' "$@"
EOF
    chmod +x "$RACHIS_VENV/bin/qiime"
}

build() {
    local stamp=$RACHIS_VENV/.rachis-stack.sha256 want t0=$SECONDS
    [ -f "$LOCK" ] || die "no $LOCK: run $0 --refresh"
    want=$(stamp_of)
    if [ -x "$PY" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "ready: $RACHIS_VENV up to date"
        return
    fi
    make_venv "$RACHIS_VENV"
    rm -f "$stamp"
    mkdir -p "$RACHIS_WHEELS"
    if ! pip_in "$PY" install -q --no-index --find-links "$RACHIS_WHEELS" \
            "${find_links[@]}" -r "$LOCK" 2>/dev/null; then
        log "wheels: fetching the pinned stack into $RACHIS_WHEELS"
        local pins
        pins=$(pins_to_fetch)
        # pip wheel: a wheel from the index, or one built from an sdist
        # (bibtexparser, a rachis dependency, has no wheel)
        pip_in "$PY" wheel -q --no-deps --use-pep517 -w "$RACHIS_WHEELS" -r "$pins" \
            || { rm -f "$pins"; die "could not fetch the rachis stack"; }
        rm -f "$pins"
        pip_in "$PY" install -q --no-index --find-links "$RACHIS_WHEELS" \
            "${find_links[@]}" -r "$LOCK"
    fi
    log "q2-aam: pip install --no-deps -e $ROOT"
    (cd "$ROOT" && pip_in "$PY" install -q --no-deps --no-build-isolation -e .)
    install_standins
    # Imported from this venv only: rachis under both names, the stand-ins
    # from their copies, nothing from Debian's folders.
    (cd / && "$PY" - "$DEBIAN_SITE" <<'PYEOF') || die "the rachis stack does not import"
import sys
import numpy, pandas, skbio, torch, aam_core.cli
import rachis, qiime2, qiime2.sdk, qiime2.plugin
assert qiime2.sdk is rachis.sdk and qiime2.Artifact is rachis.Artifact
debian = sys.argv[1]
leaks = [p for p in sys.path if p.startswith(debian)]
leaks += [m.__file__ for m in list(sys.modules.values())
          if (getattr(m, '__file__', None) or '').startswith(debian)]
assert not leaks, leaks
PYEOF
    echo "$want" > "$stamp"
    log "ready in $((SECONDS - t0)) s: $RACHIS_VENV"
}

versions() {
    (cd / && "$PY" -W ignore - <<'PYEOF')
import platform
from importlib import metadata
names = ["rachis", "numpy", "pandas", "scipy", "scikit-bio", "biom-format", "h5py",
         "torch", "scikit-learn", "pytest"]
print("[bootstrap-rachis] Python " + platform.python_version() + ", "
      + ", ".join(f"{n} {metadata.version(n)}" for n in names))
standins = ["q2-types", "q2-feature-table", "q2-sample-classifier", "q2templates", "q2cli"]
print("[bootstrap-rachis] stand-ins (Debian's, copied): "
      + ", ".join(f"{n} {metadata.version(n)}" for n in standins))
PYEOF
}

case "${1:-}" in
    --refresh) refresh; build; versions ;;
    "") build; versions ;;
    *) die "usage: $0 [--refresh]" ;;
esac
