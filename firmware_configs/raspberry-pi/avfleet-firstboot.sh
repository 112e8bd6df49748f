#!/bin/sh
# First-boot installation of the avfleet agent on a Raspberry Pi (run as root, once; idempotent).
# Called by user-data.yaml (cloud-init), or by hand on an image without cloud-init:
#   sudo sh avfleet-firstboot.sh [PIP-SPEC]        PIP-SPEC defaults to "avfleet" (a wheel path works too)
# The Pi gets the bare distribution, the lean agent: never "avfleet[controller]", whose web, database
# and broker packages only the central controller needs (docs/raspberry-pi.md, docs/benchmarks.md).
# Expects /etc/avfleet/agent.yaml and /etc/avfleet/credentials/* (see docs/raspberry-pi.md).
set -eu
SPEC="${1:-avfleet}"
PREFIX=/opt/avfleet
UNIT_SRC="$(dirname "$0")/avfleet-agent.service"

if ! command -v python3 >/dev/null; then
    apt-get update -q && apt-get install -y -q python3-venv
fi
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q --upgrade "$SPEC"
case "$SPEC" in
    *\[*) echo "avfleet-firstboot: note: $SPEC asks for extras; the agent needs none of them" >&2 ;;
esac

install -d -m 0755 /etc/avfleet
install -d -m 0700 /etc/avfleet/credentials
# Every credential the unit names must exist, even when this room has no such device.
for name in broker-password broker-ca.crt pjlink-password snmp-community snmp-auth-key snmp-priv-key; do
    [ -e "/etc/avfleet/credentials/$name" ] || install -m 0600 /dev/null "/etc/avfleet/credentials/$name"
done

if [ -f "$UNIT_SRC" ]; then
    install -m 0644 "$UNIT_SRC" /etc/systemd/system/avfleet-agent.service
else
    install -m 0644 "$PREFIX/venv/lib/python3"*/site-packages/avfleet/firmware_configs/raspberry-pi/avfleet-agent.service \
        /etc/systemd/system/avfleet-agent.service
fi
systemctl daemon-reload

# Refuse to start with a config that does not validate: the error names file, line and field.
if ! "$PREFIX/venv/bin/avfleet" agent --config /etc/avfleet/agent.yaml --check-config; then
    echo "avfleet-firstboot: fix /etc/avfleet/agent.yaml, then: systemctl enable --now avfleet-agent" >&2
    exit 2
fi
systemctl enable --now avfleet-agent.service
echo "avfleet-firstboot: avfleet-agent.service enabled and started"
