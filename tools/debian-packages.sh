#!/usr/bin/env bash
# The Debian packages the test suite talks to (real Mosquitto, net-snmp, snmpd, Chromium) and the
# venv module; `make test` runs this first. As root it installs what is missing with apt-get;
# otherwise it prints the one apt-get line to run and stops, so a newcomer is never left guessing.
set -euo pipefail

need=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_passwd >/dev/null || need+=(mosquitto-clients)
command -v snmpget >/dev/null || need+=(snmp)
[ -x /usr/sbin/snmpd ] || need+=(snmpd)
command -v chromium >/dev/null || need+=(chromium)
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)   # the clustered broker test
command -v pdftoppm >/dev/null || need+=(poppler-utils)   # renders report PDF pages to PNG in the tests
/usr/bin/python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)   # for the virtual environments

if [ ${#need[@]} -gt 0 ]; then
    if [ "${EUID:-$(id -u)}" -ne 0 ]; then
        echo "make test needs these Debian packages: ${need[*]}" >&2
        echo "install them once with:  sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
        exit 1
    fi
    echo "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The machine's PostgreSQL (127.0.0.1:5432, trust auth) may have stopped; start it when we can.
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ "${EUID:-$(id -u)}" -eq 0 ] && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    else
        echo "note: PostgreSQL is not answering on 127.0.0.1:5432; its tests will fail under CI=true" >&2
    fi
fi
