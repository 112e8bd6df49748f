"""`avfleet broker config --out DIR`: a production Mosquitto configuration that loses nothing.

Writes mosquitto.conf (a TLS listener for agents, a loopback listener for the controller,
persistence, explicit queue limits), a password file, an ACL that confines each agent to its own
topics, the TLS certificates, and the controller's broker secret with a controller.yaml that uses it.
The figures behind each limit are in shared/reference/mqtt.md §2.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path

from avfleet.controller.broker.certs import write_certificates
from avfleet.controller.broker.passwords import new_secret, set_password, write_private
from avfleet.protocols.mqtt import topics

CONTROLLER_USER = "avfleet-controller"
# Mosquitto's max_packet_size; the controller's `broker_max_packet_bytes` must not exceed it.
MAX_PACKET_SIZE = 262_144


@dataclass
class BrokerLayout:
    """Where everything lives. Paths inside mosquitto.conf are absolute, so the broker can start anywhere."""

    out: Path
    agents_port: int = 8883
    controller_port: int = 1883
    controller_bind: str = "127.0.0.1"
    hostnames: list[str] = field(default_factory=list)
    max_queued_messages: int = 1_000_000
    max_queued_bytes: int = 1_000_000_000
    autosave_interval_s: int = 60
    persistent_client_expiration: str = "14d"
    max_packet_size: int = MAX_PACKET_SIZE
    tls: bool = True

    @property
    def conf(self) -> Path:
        return self.out / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.out / "passwd"

    @property
    def acl(self) -> Path:
        return self.out / "acl"

    @property
    def certs(self) -> Path:
        return self.out / "certs"

    @property
    def secrets(self) -> Path:
        return self.out / "secrets"

    @property
    def data(self) -> Path:
        return self.out / "data"

    @property
    def agents(self) -> Path:
        return self.out / "agents"


def acl_text(controller_user: str = CONTROLLER_USER) -> str:
    prefix = topics.PREFIX
    return (
        "# avfleet ACL: written by `avfleet broker config`. Username = client id = agent id.\n"
        "# Each agent publishes only under its own prefix and reads only its own command topic.\n"
        f"pattern write {prefix}/%u/#\n"
        f"pattern read {prefix}/%u/cmd\n"
        "\n"
        f"user {controller_user}\n"
        f"topic readwrite {prefix}/#\n"
        f"topic readwrite $share/{topics.SHARED_GROUP}/{prefix}/#\n"
        "topic read $SYS/#\n"
    )


def mosquitto_conf(layout: BrokerLayout) -> str:
    out = layout.out.resolve()
    tls = (
        f"certfile {out / 'certs' / 'server.crt'}\nkeyfile {out / 'certs' / 'server.key'}\n"
        f"cafile {out / 'certs' / 'ca.crt'}\n"
        "# For mutual TLS: require_certificate true + use_identity_as_username true (CN = agent id).\n"
        if layout.tls else "# Without TLS: for testing only.\n"
    )
    agents_listener = (
        f"# Agents: {'TLS, ' if layout.tls else ''}password per agent. The client id is replaced by the user name,\n"
        "# so one agent's credentials cannot take over another agent's session (and fire its Last Will).\n"
        f"listener {layout.agents_port}\n"
        "use_username_as_clientid true\n" + tls + "\n"
    )
    return (
        "# avfleet Mosquitto configuration, written by `avfleet broker config`.\n"
        "# Why each limit: docs/deployment.md and shared/reference/mqtt.md section 2.\n"
        "per_listener_settings false\n\n"
        + agents_listener +
        "# The controller on the same host. Controllers pick their own client ids (one per process under a\n"
        "# shared subscription), so this listener keeps them; only processes on this host reach it.\n"
        f"listener {layout.controller_port} {layout.controller_bind}\n\n"
        "allow_anonymous false\n"
        f"password_file {out / 'passwd'}\n"
        f"acl_file {out / 'acl'}\n\n"
        "# A PUBACK means 'in broker RAM'; persistence is periodic (default every 1800 s).\n"
        "persistence true\n"
        f"persistence_location {out / 'data'}/\n"
        f"autosave_interval {layout.autosave_interval_s}\n"
        "# Sessions of agents that never come back end after this; the controller's must outlive any outage.\n"
        f"persistent_client_expiration {layout.persistent_client_expiration}\n\n"
        "# The default max_queued_messages (1000) silently drops a stopped controller's backlog, and 0\n"
        "# ('unlimited') dropped messages on some 2.0.x releases: size it to the longest outage accepted.\n"
        f"max_queued_messages {layout.max_queued_messages}\n"
        f"max_queued_bytes {layout.max_queued_bytes}\n"
        "max_inflight_messages 20\n"
        "# Larger packets make Mosquitto drop the sender's connection; the controller refuses them first.\n"
        f"max_packet_size {layout.max_packet_size}\n"
        "set_tcp_nodelay true\n\n"
        "log_dest stderr\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        "connection_messages true\n"
    )


def default_hostnames() -> list[str]:
    names = [socket.getfqdn(), socket.gethostname(), "localhost", "127.0.0.1"]
    return [n for n in dict.fromkeys(names) if n]


def write_broker_config(layout: BrokerLayout, controller_user: str = CONTROLLER_USER) -> Path:
    """Write the whole broker directory; returns the path of the controller's settings file.

    An existing password file keeps its agents; the controller's secret is replaced each run.
    """
    layout.out.mkdir(parents=True, exist_ok=True)
    layout.data.mkdir(exist_ok=True)
    if layout.tls:
        write_certificates(layout.certs, layout.hostnames or default_hostnames())
    secret = new_secret()
    set_password(layout.passwd, controller_user, secret)
    secret_file = layout.secrets / f"{controller_user}.secret"
    write_private(secret_file, secret + "\n")
    layout.acl.write_text(acl_text(controller_user))
    layout.conf.write_text(mosquitto_conf(layout))
    _hand_to_broker_user(layout)
    (layout.out / "layout.json").write_text(json.dumps(
        {"agents_port": layout.agents_port, "controller_port": layout.controller_port, "tls": layout.tls}) + "\n")
    controller_yaml = layout.out / "controller.yaml"
    controller_yaml.write_text(
        "# Broker settings for `avfleet controller --config` (add api_tokens and database_url).\n"
        f"broker_url: mqtt://127.0.0.1:{layout.controller_port}\n"
        f"broker_username: {controller_user}\n"
        f"broker_password_file: {secret_file.resolve()}\n"
        f"broker_max_packet_bytes: {layout.max_packet_size}\n"
    )
    return controller_yaml


def _hand_to_broker_user(layout: BrokerLayout, user: str = "mosquitto") -> None:
    """Started as root, Mosquitto drops to the `mosquitto` user before it reads these files."""
    import os
    import pwd

    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    for path in (layout.passwd, layout.acl, layout.data, layout.certs / "server.key"):
        if path.exists():
            os.chown(path, entry.pw_uid, entry.pw_gid)


def read_layout(out: Path) -> BrokerLayout:
    """The layout a previous `write_broker_config` left in `out`."""
    try:
        saved = json.loads((out / "layout.json").read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{out} holds no broker configuration (run `avfleet broker config --out {out}`): "
                                f"{exc}") from None
    return BrokerLayout(out, agents_port=saved["agents_port"], controller_port=saved["controller_port"],
                        tls=saved["tls"])


@dataclass(frozen=True)
class AgentCredentials:
    agent_id: str
    secret_file: Path
    config_file: Path


def add_agent(layout: BrokerLayout, agent_id: str, *, broker_host: str, municipality: str, school: str,
              room: str | None = None) -> AgentCredentials:
    """Create or rotate an agent's broker password and write its config file (without devices)."""
    if not topics.is_valid_id(agent_id):
        raise ValueError(f"agent id {agent_id!r} must match {topics.ID_PATTERN} (it becomes a topic level)")
    if agent_id == CONTROLLER_USER:
        raise ValueError(f"{agent_id!r} is the controller's user name")
    if not layout.passwd.exists():
        raise FileNotFoundError(f"{layout.passwd} does not exist: run `avfleet broker config --out {layout.out}` "
                                "first")
    secret = new_secret()
    set_password(layout.passwd, agent_id, secret)
    _hand_to_broker_user(layout)
    agent_dir = layout.agents / agent_id
    secret_file = agent_dir / "broker.secret"
    write_private(secret_file, secret + "\n")
    ca = layout.certs / "ca.crt"
    scheme, port = ("mqtts" if ca.exists() else "mqtt"), layout.agents_port
    if ca.exists():
        (agent_dir / "ca.crt").write_text(ca.read_text())
    site = {"municipality": municipality, "school": school, **({"room": room} if room else {})}
    config_file = agent_dir / "agent.yaml"
    from ruamel.yaml import YAML

    document = {
        "version": 1,
        "agent_id": agent_id,
        "site": site,
        "broker": {"url": f"{scheme}://{broker_host}:{port}", "username": agent_id,
                   "password_file": "broker.secret", **({"tls": {"ca": "ca.crt"}} if ca.exists() else {})},
        "devices": [],
    }
    yaml = YAML()
    yaml.default_flow_style = False
    with config_file.open("w") as fh:
        fh.write("# Written by `avfleet agents add`; add this room's devices, then copy the directory to the Pi.\n"
                 "# Reload the broker (SIGHUP) so it reads the new password file entry.\n")
        yaml.dump(document, fh)
    return AgentCredentials(agent_id, secret_file, config_file)
