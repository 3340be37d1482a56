# Sourced by start.sh and test.sh: make .venv and install the pinned requirements when they change.
# Usage: . scripts/venv.sh requirements.txt
req_file="$1"
py="${PYTHON:-python3}"
if ! command -v "$py" >/dev/null; then
    echo "Python 3.11 or newer is needed (python3 not found)." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    if ! "$py" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$py" -m venv .venv
        else
            echo "Cannot create a virtual environment: install python3-venv (Debian/Ubuntu) and retry." >&2
            exit 1
        fi
    fi
fi
stamp=".venv/.installed-$(basename "$req_file")"
want="$(cat requirements*.txt | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Python packages from $req_file ..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req_file"
    echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
