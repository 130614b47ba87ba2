#!/bin/sh
# edgeembed offline installer for @TARGET@ (@ARCH@, Python @PYTHON@). Needs no network.
#   sh install.sh [PREFIX]      venv in PREFIX/venv (default: this folder/venv)
#   INSTALL_SYSTEMD=1 sh install.sh   also install and start edgeembed.service, the embedding
#                                     server on 127.0.0.1:8080 (root; key in /etc/edgeembed/api-key)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${1:-$HERE}
PYTHON=${PYTHON:-python3}
cd "$HERE"

say() { printf '%s\n' "[edgeembed install] $*"; }
die() { printf '%s\n' "[edgeembed install] error: $*" >&2; exit 1; }

say "checking files against MANIFEST.sha256"
sha256sum --quiet -c MANIFEST.sha256 || die "files damaged or changed; copy the archive again"

machine=$(uname -m)
[ "$machine" = "@ARCH@" ] || die "this package is for @ARCH@, this machine is $machine; package again with the right --target"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install Python @PYTHON@ (apt install python3)"
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = "@PYTHON@" ] || die "wheels are for Python @PYTHON@, $PYTHON is $version; set PYTHON=python@PYTHON@ or package again"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "Python's venv module is missing: sudo apt install python3-venv"

say "creating $PREFIX/venv"
"$PYTHON" -m venv "$PREFIX/venv"
say "installing from ./wheelhouse (offline, pinned, sha256-checked)"
# --no-deps: requirements.txt is the complete, pruned set (package.json lists what was left out)
"$PREFIX/venv/bin/python" -m pip install -q --no-index --find-links "$HERE/wheelhouse" \
    --require-hashes --no-compile --no-deps -r "$HERE/requirements.txt"
# Embedding needs no installer: pip and setuptools go (python -m ensurepip brings pip back).
"$PREFIX/venv/bin/python" -m pip uninstall -q -y pip setuptools >/dev/null 2>&1 || true

say "verifying the bundle"
"$PREFIX/venv/bin/edgeembed" info "$HERE/bundle" >/dev/null
say "sample search:"
"$PREFIX/venv/bin/python" "$HERE/samples/semantic_search.py" "$HERE/bundle" "$HERE/samples/corpus.txt" \
    "how often should I water my plants" --top 3

KEYFILE=${EDGEEMBED_KEY_FILE:-/etc/edgeembed/api-key}
if [ "${INSTALL_SYSTEMD:-0}" = "1" ] && [ -f "$HERE/edgeembed.service" ]; then
    if [ ! -s "$KEYFILE" ]; then
        say "writing a new API key to $KEYFILE (mode 0600)"
        mkdir -p "$(dirname "$KEYFILE")"
        (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$KEYFILE")
    fi
    chmod 600 "$KEYFILE"
    say "installing edgeembed.service"
    sed -e "s#@VENV@#$PREFIX/venv#g" -e "s#@HERE@#$HERE#g" -e "s#@KEYFILE@#$KEYFILE#g" \
        "$HERE/edgeembed.service" > /etc/systemd/system/edgeembed.service
    systemctl daemon-reload
    systemctl enable --now edgeembed.service
    say "serving on http://127.0.0.1:8080 (key: sudo cat $KEYFILE)"
fi
say "done. Try: $PREFIX/venv/bin/edgeembed embed $HERE/bundle \"hello world\""
[ -x "$PREFIX/venv/bin/uvicorn" ] && say "or serve it: $PREFIX/venv/bin/edgeembed serve $HERE/bundle --port 8080"
exit 0
