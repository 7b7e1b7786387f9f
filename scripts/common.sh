# Shared by the test scripts in this folder; sourced, not run (`. "$(dirname ...)/common.sh"`).
# Goes to the repository root (ROOT), defaults CARGO_TARGET_DIR to ROOT/target, and defines
# log, die (naming the calling script), apt_install (sudo when not root; `apt-get update` once)
# and shared_lib_dir.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
START=$SECONDS

log() { printf '==> %s\n' "$*"; }
die() {
    printf '%s: FAILED: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it"
    if [ "$apt_updated" = 0 ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# The library's SONAME (libquantize.so.MAJOR) is what linked programs ask the loader for; cargo's
# target dir has only libquantize.so, so link and run through a directory with both names.
shared_lib_dir() {
    local lib=$1 dir=$2 soname
    soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    mkdir -p "$dir"
    ln -sf "$lib" "$dir/libquantize.so"
    [ -z "$soname" ] || ln -sf "$lib" "$dir/$soname"
}
