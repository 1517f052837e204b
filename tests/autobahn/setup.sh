#!/usr/bin/env bash
# Make .autobahn/venv: Python 2.7 with the Autobahn|Testsuite's `wstest`, at the releases in
# tests/autobahn/requirements-py27.txt, for tests/test_autobahn.py. Run it from anywhere:
#
#     bash tests/autobahn/setup.sh
#
# It does nothing when the venv already holds exactly those requirements, and rebuilds it
# when they changed. wstest runs only on Python 2, which has no venv module: virtualenv (the
# last release that makes Python 2 environments, from requirements-bootstrap.txt) makes it,
# run from a Python 3 venv of its own at .autobahn/bootstrap. Python 2.7 is taken from
# $AUTOBAHN_PYTHON2 if set, else from pyenv's versions, else from python2.7 on the PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/autobahn
dir=.autobahn
venv=$dir/venv
requirements=$here/requirements-py27.txt
stamp=$venv/requirements-py27.txt # a copy of the requirements the venv was made with

if [ -x "$venv/bin/wstest" ] && cmp -s "$requirements" "$stamp"; then
    echo "setup.sh: $venv is up to date"
    exit 0
fi

is_python27() {
    [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null
}

python2=${AUTOBAHN_PYTHON2:-}
if [ -z "$python2" ]; then
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/2.7*/bin/python2.7 \
        "$(command -v python2.7 || true)"; do
        if is_python27 "$candidate"; then
            python2=$candidate
            break
        fi
    done
fi
if [ -z "$python2" ] || ! is_python27 "$python2"; then
    echo "setup.sh: no Python 2.7 found (looked at \$AUTOBAHN_PYTHON2, pyenv's versions" \
        "and python2.7 on the PATH); wstest needs it" >&2
    exit 1
fi

echo "setup.sh: making $venv with $python2"
rm -rf "$venv" "$dir/bootstrap"
python3 -m venv "$dir/bootstrap"
"$dir/bootstrap/bin/python" -m pip install -q -r "$here/requirements-bootstrap.txt"
VIRTUALENV_OVERRIDE_APP_DATA="$dir/app-data" \
    "$dir/bootstrap/bin/python" -m virtualenv -q -p "$python2" "$venv"
export PIP_NO_PYTHON_VERSION_WARNING=1
"$venv/bin/python" -m pip install -q -r "$requirements"
"$venv/bin/python" -m pip check
PYTHONWARNINGS=ignore "$venv/bin/wstest" --autobahnversion
cp "$requirements" "$stamp"
