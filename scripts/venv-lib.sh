# What the pip-only test environments share (scripts/bootstrap-newest.sh,
# scripts/bootstrap-rachis.sh): their log lines, pip of one interpreter, a
# venv that cannot see Debian's packages, the lock file written from the
# newest releases, and the pins to fetch. Sourced after TAG (the log
# prefix), WHEELS, SYSTEM_PYTHON, LOCK and TOP_LEVEL are set.

log() { printf '[%s] %s\n' "$TAG" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$TAG" "$*" >&2; exit 1; }

find_links=()
[ -d "$WHEELS" ] && find_links=(--find-links "$WHEELS")

pip_in() {  # pip of the given interpreter, quiet about its own version
    local python=$1; shift
    "$python" -m pip --disable-pip-version-check "$@"
}

make_venv() {  # a venv without the system's site-packages
    local venv=$1
    if [ -x "$venv/bin/python" ]; then
        grep -q '^include-system-site-packages = false' "$venv/pyvenv.cfg" \
            || die "$venv sees the system's site-packages; remove it"
        return
    fi
    log "venv: creating $venv on $SYSTEM_PYTHON (isolated from Debian's packages)"
    "$SYSTEM_PYTHON" -m venv "$venv"
}

write_lock() {  # write_lock PYTHON WHAT: the exact versions of PYTHON's venv into $LOCK
    local python=$1 what=$2
    {
        echo "# $what:"
        echo "# exact versions, written by scripts/$TAG.sh --refresh on"
        echo "# $(date -u +%Y-%m-%d) for $("$python" -V) from the newest releases of"
        echo "# ${TOP_LEVEL[*]}."
        # torch's local label (+cpu) names a wheel of $WHEELS; the plain
        # version also matches it, and the index's build where there is none.
        pip_in "$python" freeze --all \
            | grep -v -E '^(pip|wheel)==' | sed -E 's/^(torch==[^+]+)\+.*/\1/'
    } > "$LOCK"
    log "refresh: wrote $LOCK"
}

pins_to_fetch() {  # a temporary copy of $LOCK, without torch when $WHEELS holds it
    local pins torch_pin
    pins=$(mktemp)
    torch_pin=$(sed -n 's/^torch==//p' "$LOCK")
    if [ -d "$WHEELS" ] && ls "$WHEELS"/torch-"$torch_pin"[+-]* >/dev/null 2>&1; then
        grep -v '^torch==' "$LOCK" > "$pins"
    else
        cp "$LOCK" "$pins"
    fi
    echo "$pins"
}
