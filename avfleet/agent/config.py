"""The agent's configuration: a versioned YAML file, validated completely before anything starts.

`load_config(path)` reads the file with ruamel.yaml (which keeps line numbers), validates it with the
pydantic models below and raises `ConfigError` listing every problem as `file:line: field: message`,
with the closest known key when a key is misspelt. Secrets (device and broker passwords) come from
files or environment variables named in the config and are read during validation, so a missing
secret is a config error too, never a failure after the agent went on the network.

The models can be built from Python as well (the demo does): `AgentConfig.model_validate({...})`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from avfleet.protocols.device_url import (
    DeviceTarget,
    DeviceUrlError,
    PJLinkTarget,
    SnmpTarget,
    check_community,
    parse_device_url,
)
from avfleet.protocols.mqtt.payloads import AgentId, ConfiguredDevice, DeviceId, Site
from avfleet.protocols.status import Kind
from avfleet.yamlcheck import YamlCheckError, YamlProblem, load_yaml, plain, read_yaml_file, validation_problems

CONFIG_VERSION = 1
DEFAULT_MQTT_PORT = 1883
DEFAULT_MQTTS_PORT = 8883


ConfigIssue = YamlProblem  # one problem: file, line, field, message, suggestion


class ConfigError(Exception):
    """The configuration cannot be used; `issues` holds one line per problem. Exit code 2."""

    def __init__(self, issues: list[YamlProblem]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _read_secret(info: ValidationInfo, file: Path | None, env: str | None, what: str) -> str | None:
    """The secret from a file (first line, relative to the config file) or an environment variable."""
    if file is not None and env is not None:
        raise ValueError(f"give either {what}_file or {what}_env, not both")
    if file is not None:
        base = Path((info.context or {}).get("base_dir", "."))
        file = _expand(file, info)
        path = file if file.is_absolute() else base / file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read {what}_file {str(path)!r}: {exc.strerror or exc}") from None
        value = text.splitlines()[0].strip() if text.strip() else ""
        if not value:
            raise ValueError(f"{what}_file {str(path)!r} is empty")
        return value
    if env is not None:
        environ = (info.context or {}).get("environ", os.environ)
        value = environ.get(env)
        if not value:
            raise ValueError(f"environment variable {env} ({what}_env) is not set or empty")
        return value
    return None


def _expand(path: Path, info: ValidationInfo) -> Path:
    """`${CREDENTIALS_DIRECTORY}/name` and similar: systemd's LoadCredential= hands secrets over this way."""
    text = str(path)
    if "$" not in text:
        return path
    environ = (info.context or {}).get("environ", os.environ)
    for name in re.findall(r"\$\{(\w+)\}|\$(\w+)", text):
        key = name[0] or name[1]
        if key not in environ:
            raise ValueError(f"{text!r} uses ${{{key}}}, which is not set in the environment")
        text = text.replace("${" + key + "}", environ[key]).replace("$" + key, environ[key])
    return Path(text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class TlsConfig(_Strict):
    ca: Path | None = None  # CA bundle that signed the broker's certificate; None = system store
    cert: Path | None = None  # client certificate for mutual TLS (CN = agent id)
    key: Path | None = None

    @model_validator(mode="after")
    def _files_exist(self, info: ValidationInfo) -> TlsConfig:
        base = Path((info.context or {}).get("base_dir", "."))
        for name in ("ca", "cert", "key"):
            value = getattr(self, name)
            if value is None:
                continue
            value = _expand(value, info)
            path = value if value.is_absolute() else base / value
            if not path.is_file():
                raise ValueError(f"tls.{name} file {str(path)!r} does not exist")
            setattr(self, name, path)
        if (self.cert is None) != (self.key is None):
            raise ValueError("tls.cert and tls.key go together")
        return self


def _checked_broker_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"broker url must start with mqtt:// or mqtts://, not {parts.scheme or 'nothing'}://")
    if not parts.hostname:
        raise ValueError("broker url has no host (write mqtt://HOST[:PORT])")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("broker url port is not a number between 0 and 65535") from None
    if parts.username or parts.password:
        raise ValueError("put broker credentials in username and password_file, not in the url")
    if parts.path not in ("", "/"):
        raise ValueError("broker url takes no path")
    return value


class BrokerConfig(_Strict):
    url: str | None = None  # mqtt://HOST[:PORT] or mqtts://HOST[:PORT]
    # The nodes of a clustered broker, tried in turn: on a failed connection or a lost one the agent
    # moves to the next (docs/deployment.md "A clustered broker"). Instead of url, not beside it.
    urls: list[str] = Field(default_factory=list, max_length=16)
    discover: bool = False  # find the broker by mDNS (_mqtt._tcp, _secure-mqtt._tcp) when no url is given
    username: str | None = None  # defaults to the agent id (client id = username = agent id)
    password_file: Path | None = None
    password_env: str | None = None
    tls: TlsConfig | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    keepalive_s: int = Field(30, ge=5, le=3600)
    session_expiry_s: int = Field(3600, ge=0)  # keeps commands queued for the agent over short outages
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    inflight_window: int = Field(100, ge=1, le=1000)  # unacked QoS 1 messages in flight (mqtt.md §1.5)
    _password: SecretStr | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _checked_broker_url(value)

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, values: list[str]) -> list[str]:
        for n, value in enumerate(values, start=1):
            try:
                _checked_broker_url(value)
            except ValueError as exc:
                raise ValueError(f"urls entry {n} ({value}): {exc}") from None
        schemes = {urlsplit(v).scheme for v in values}
        if len(schemes) > 1:
            raise ValueError("urls mix mqtt:// and mqtts://: the nodes of one cluster speak the same")
        return values

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> BrokerConfig:
        if self.url is not None and self.urls:
            raise ValueError("give broker.url or broker.urls, not both")
        if self.url is None and not self.urls and not self.discover:
            raise ValueError("give broker.url (or broker.urls), or set broker.discover: true to find it by mDNS")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must not be below reconnect_min_s")
        secret = _read_secret(info, self.password_file, self.password_env, "password")
        self._password = SecretStr(secret) if secret is not None else None
        return self

    @property
    def password(self) -> str | None:
        return self._password.get_secret_value() if self._password else None

    @property
    def configured_urls(self) -> list[str]:
        """The broker URLs of the config in the order they are tried (empty: discovered by mDNS)."""
        return [self.url] if self.url is not None else list(self.urls)

    @property
    def tls_enabled(self) -> bool:
        return self.tls is not None or any(u.startswith("mqtts://") for u in self.configured_urls)

    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every configured broker URL, in order."""
        out = []
        for url in self.configured_urls:
            parts = urlsplit(url)
            default = DEFAULT_MQTTS_PORT if parts.scheme == "mqtts" else DEFAULT_MQTT_PORT
            out.append((parts.hostname or "", parts.port or default))
        return out

    def host_port(self) -> tuple[str, int]:
        """The first configured broker's (host, port)."""
        addresses = self.addresses()
        if not addresses:
            raise ValueError("no broker url (it is discovered by mDNS)")
        return addresses[0]


class DeviceConfig(_Strict):
    id: DeviceId
    url: str = Field(repr=False)  # may hold an inline password (the minimal config); see target.redacted()
    profile: str | None = None
    kind: Kind | None = None
    poll_interval_s: float | None = Field(None, gt=0)  # None: polling.interval_s
    # PJLink password, or SNMP community (v1/v2c); overrides what the URL holds.
    password_file: Path | None = None
    password_env: str | None = None
    # SNMPv3 keys, overriding auth_key / priv_key of the URL.
    auth_key_file: Path | None = None
    auth_key_env: str | None = None
    priv_key_file: Path | None = None
    priv_key_env: str | None = None
    # PDUs: outlet index → id of the device it feeds; the agent never cuts an outlet whose
    # projector is on or cooling.
    feeds: dict[int, DeviceId] = Field(default_factory=dict)
    _target: DeviceTarget | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> DeviceConfig:
        password = _read_secret(info, self.password_file, self.password_env, "password")
        auth_key = _read_secret(info, self.auth_key_file, self.auth_key_env, "auth_key")
        priv_key = _read_secret(info, self.priv_key_file, self.priv_key_env, "priv_key")
        url = self.url
        # SNMPv3 keys from files join the URL's query, where the URL parser checks them with the rest.
        for name, secret in (("auth_key", auth_key), ("priv_key", priv_key)):
            if secret is not None and url.lower().startswith("snmp://"):
                if f"{name}=" in url:
                    raise ValueError(f"the url already holds {name}; remove it or drop {name}_file/_env")
                url += ("&" if "?" in url else "?") + f"{name}={quote(secret, safe='')}"
        try:
            target = parse_device_url(url, self.profile)
        except DeviceUrlError as exc:
            raise ValueError(f"url: {exc}") from None
        if isinstance(target, PJLinkTarget):
            if auth_key or priv_key:
                raise ValueError("auth_key/priv_key are SNMPv3 settings; this is a pjlink:// device")
            if password is not None:
                if target.password:
                    raise ValueError("the url already holds a password; remove it or drop password_file/_env")
                target = dataclasses.replace(target, password=password)
            if self.feeds:
                raise ValueError("feeds is only for PDUs (snmp:// devices with outlets)")
        elif isinstance(target, SnmpTarget):
            if password is not None:
                if target.v3 is not None:
                    raise ValueError("an SNMPv3 device takes auth_key/priv_key, not password (community)")
                try:
                    check_community(password, "password_file/_env")
                except DeviceUrlError as exc:
                    raise ValueError(str(exc)) from None
                target = dataclasses.replace(target, community=password)
            if (auth_key or priv_key) and target.v3 is None:  # pragma: no cover - the parser refuses this first
                raise ValueError("auth_key/priv_key need an SNMPv3 url (snmp://USER@HOST?auth=SHA&priv=AES)")
        self._target = target
        return self

    @property
    def target(self) -> DeviceTarget:
        if self._target is None:  # pragma: no cover - set by the validator
            raise RuntimeError("device config was not validated")
        return self._target

    def describe(self) -> ConfiguredDevice:
        """The device as the birth message lists it: no secrets."""
        target = self.target
        return ConfiguredDevice(
            id=self.id,
            protocol=target.scheme,
            kind=self.kind,
            host=target.host,
            port=target.port,
            profile=self.profile or getattr(target, "profile", None),
        )


class PollingConfig(_Strict):
    interval_s: float = Field(30.0, gt=0)
    jitter: float = Field(0.1, ge=0, le=0.5)  # each wait is interval × (1 ± jitter)
    failure_threshold: int = Field(3, ge=1)  # consecutive failed polls before a device is unreachable
    max_backoff_s: float = Field(300.0, gt=0)  # slowest polling of an unreachable device
    heartbeat_s: float = Field(300.0, gt=0)  # a state is published at least this often per device


class DiscoveryConfig(_Strict):
    enabled: bool = False  # periodic discovery of projectors on the LAN (reported in logs and `avfleet discover`)
    pjlink_search: bool = True  # PJLink Class 2 UDP search (SRCH)
    search_targets: list[str] = Field(default_factory=lambda: ["255.255.255.255:4352"])  # HOST[:PORT] to send SRCH to
    mdns: bool = True  # mDNS browsing (_pjlink._tcp and similar)
    notifications: bool = True  # listen for PJLink Class 2 notifications; each one triggers a poll of its device
    notification_port: int = Field(4352, ge=0, le=65535)  # 0 = any free port (tests)
    bind: str = "0.0.0.0"
    mdns_interfaces: list[str] | None = None  # addresses to browse mDNS on (also for broker.discover); None = all
    interval_s: float = Field(3600.0, gt=0)
    timeout_s: float = Field(5.0, gt=0)

    @field_validator("search_targets")
    @classmethod
    def _check_targets(cls, values: list[str]) -> list[str]:
        for item in values:
            host, sep, port = item.rpartition(":")
            if not item or (sep and (not host or not port.isdigit() or not 0 < int(port) < 65536)):
                raise ValueError(f"search target {item!r} is not HOST or HOST:PORT")
        return values


def default_state_dir(environ: dict[str, str] | os._Environ[str]) -> Path:
    """Where an agent run outside systemd keeps its state: $XDG_STATE_HOME/avfleet, else
    ~/.local/state/avfleet (the XDG Base Directory default; a relative XDG_STATE_HOME is ignored, as
    the specification says)."""
    xdg = environ.get("XDG_STATE_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "avfleet"
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".local" / "state" / "avfleet"


class OutboxConfig(_Strict):
    # default: $STATE_DIRECTORY/outbox.sqlite (systemd), else $XDG_STATE_HOME/avfleet/outbox-<agent_id>.sqlite,
    # else ~/.local/state/avfleet/outbox-<agent_id>.sqlite; never the current directory
    path: Path | None = None
    max_messages: int = Field(100_000, ge=10)  # bound; the oldest are dropped (and counted) beyond it
    commit_interval_s: float = Field(1.0, gt=0, le=60)  # batched commits spare the SD card
    commit_batch: int = Field(500, ge=1)


class HealthConfig(_Strict):
    interval_s: float = Field(60.0, gt=0)


class CommandsConfig(_Strict):
    retry_interval_s: float = Field(2.0, gt=0)  # while a projector warms up or cools down
    seen_ids_kept: int = Field(10_000, ge=100)  # command ids remembered to run each once


class AgentConfig(_Strict):
    version: int
    agent_id: AgentId
    site: Site
    broker: BrokerConfig
    devices: list[DeviceConfig] = Field(default_factory=list)
    polling: PollingConfig = Field(default_factory=PollingConfig)
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    commands: CommandsConfig = Field(default_factory=CommandsConfig)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    _source: Path | None = PrivateAttr(default=None)

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: int) -> int:
        if value != CONFIG_VERSION:
            raise ValueError(f"config version {value} is not supported; this agent reads version {CONFIG_VERSION}")
        return value

    @field_validator("devices")
    @classmethod
    def _unique_ids(cls, devices: list[DeviceConfig]) -> list[DeviceConfig]:
        seen: set[str] = set()
        for device in devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} appears twice; ids must be unique")
            seen.add(device.id)
        return devices

    @model_validator(mode="after")
    def _check_feeds(self) -> AgentConfig:
        ids = {d.id for d in self.devices}
        for device in self.devices:
            for index, fed in device.feeds.items():
                if fed not in ids:
                    raise ValueError(f"device {device.id!r} feeds outlet {index} to unknown device {fed!r}")
        return self

    def search_targets(self) -> list[tuple[str, int]]:
        out = []
        for item in self.discovery.search_targets:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
            out.append((host or item, int(port) if port.isdigit() else 4352))
        return out

    def poll_interval(self, device: DeviceConfig) -> float:
        return device.poll_interval_s or self.polling.interval_s

    def outbox_path(self) -> Path:
        if self.outbox.path is not None:
            path = self.outbox.path
            if not path.is_absolute() and self._source is not None:
                path = self._source.parent / path
            return path
        state_dir = os.environ.get("STATE_DIRECTORY")
        if state_dir:  # systemd's StateDirectory= of this unit: the agent has it to itself
            return Path(state_dir.split(":")[0]) / "outbox.sqlite"
        # Never the current directory (a `cd` must not lose or fork the outbox and its seq).
        return default_state_dir(os.environ) / f"outbox-{self.agent_id}.sqlite"

    def device(self, device_id: str) -> DeviceConfig | None:
        return next((d for d in self.devices if d.id == device_id), None)


# ---- loading YAML with line numbers ------------------------------------------------------------


def load_config(path: str | Path, *, environ: dict[str, str] | None = None) -> AgentConfig:
    """Read and validate a config file; raise ConfigError naming file, line and field of each problem."""
    path = Path(path)
    source = str(path)
    try:
        tree = read_yaml_file(path)
    except YamlCheckError as exc:
        raise ConfigError(exc.problems) from None
    config = _validate(tree, source=source, base_dir=path.resolve().parent, environ=environ)
    config._source = path.resolve()
    return config


def parse_config_text(
    text: str,
    *,
    source: str = "<config>",
    base_dir: Path | None = None,
    environ: dict[str, str] | None = None,
) -> AgentConfig:
    try:
        tree = load_yaml(text, source=source)
    except YamlCheckError as exc:
        raise ConfigError(exc.problems) from None
    return _validate(tree, source=source, base_dir=base_dir, environ=environ)


def _validate(tree: Any, *, source: str, base_dir: Path | None, environ: dict[str, str] | None) -> AgentConfig:
    if tree is None:
        raise ConfigError([ConfigIssue(source, 1, "(file)", "the file is empty; see firmware_configs/agents/")])
    if not isinstance(tree, dict):
        raise ConfigError(
            [ConfigIssue(source, 1, "(file)", f"the top level must be a mapping of keys, not a {type(tree).__name__}")]
        )
    if "version" not in tree:
        raise ConfigError([ConfigIssue(source, 1, "version", f"missing; write 'version: {CONFIG_VERSION}' first")])
    context = {"base_dir": str(base_dir or Path.cwd()), "environ": environ if environ is not None else os.environ}
    try:
        return AgentConfig.model_validate(plain(tree), context=context)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, tree, source, model=AgentConfig)) from None
