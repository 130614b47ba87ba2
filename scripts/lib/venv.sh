# shellcheck shell=bash
# ensure_venv DIR: a virtual environment at DIR with a current pip (made once, reused after).
ensure_venv() {
  if [ ! -x "$1/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$1"
    "$1/bin/python" -m pip install -q --upgrade pip
  fi
}
