#!/usr/bin/env bash
# What the test suite needs outside Python: ffmpeg, espeak-ng, chromium, Kannel with its
# fakesmsc test SMSC, and gammu-smsd (Debian packages),
# Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database `test`, trust auth).
# Installs missing packages as root with apt-get, and starts the services when they are down.
set -euo pipefail

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/bearerbox ] || missing+=(kannel)
[ -x /usr/lib/kannel/test/fakesmsc ] || missing+=(kannel-extras)
command -v gammu >/dev/null || missing+=(gammu)
command -v gammu-smsd >/dev/null || missing+=(gammu-smsd)
fresh_pg=0
[[ " ${missing[*]} " == *" postgresql "* ]] && fresh_pg=1
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    if ! command -v apt-get >/dev/null || ! as_root true; then
        echo "Cannot install ${missing[*]}: no apt-get or no root. Install them, then retry." >&2
        exit 1
    fi
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379; then
    echo "Starting Redis on 127.0.0.1:6379"
    mkdir -p /tmp/redis-data
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp/redis-data --logfile /tmp/redis-data/redis.log
    for _ in $(seq 50); do port_open 6379 && break; sleep 0.1; done
fi

if ! port_open 5432; then
    echo "Starting PostgreSQL on 127.0.0.1:5432"
    version="$(ls /etc/postgresql | sort -n | tail -1)"
    if [ "$fresh_pg" = 1 ]; then
        # A cluster we just installed: let local test connections in without a password.
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 100); do port_open 5432 && break; sleep 0.1; done
fi
if command -v psql >/dev/null && ! psql -h 127.0.0.1 -U postgres -d test -Atc "select 1" >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
fi
