"""Controller settings: environment (prefix AVFLEET_), an optional YAML file, and explicit overrides.

Built by `load_settings()`; nothing is read at import time. Outside demo mode the secrets refuse
empty or well-known values, so a production controller never runs with a guessable token.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from avfleet.yamlcheck import YamlCheckError, YamlProblem, plain, read_yaml_file, validation_problems

INSECURE_SECRETS = frozenset({"", "changeme", "change-me", "secret", "password", "admin", "token", "avfleet"})
MIN_SECRET_LENGTH = 16


class SettingsError(ValueError):
    """The configuration cannot be used; the message names the field and what to do.

    `problems` holds one entry per problem (file, line, field, message), one line each in the message.
    """

    def __init__(self, message: str, problems: list[YamlProblem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


class WebhookTarget(BaseModel):
    """A receiver of ticket events: POST JSON signed with HMAC-SHA256 of the body keyed by `secret`."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr | None = None
    secret_file: Path | None = None  # instead of secret: read once at start-up
    events: list[Literal["ticket.opened", "ticket.updated", "ticket.resolved", "ticket.reopened",
                         "ticket.closed"]] | None = None  # None: every event

    @model_validator(mode="after")
    def _secret_from_file(self) -> WebhookTarget:
        if self.secret is None:
            if self.secret_file is None:
                raise ValueError("secret: give secret or secret_file")
            self.secret = SecretStr(_read_file(self.secret_file, "secret_file"))
        return self


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    sender: str = "avfleet@localhost"
    timeout_s: float = Field(default=15.0, gt=0, le=300)


class EmailRecipients(BaseModel):
    """Who gets ticket mail: one municipality's people, or the county's (municipality omitted)."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(min_length=1)
    municipality: str | None = None
    mode: Literal["immediate", "digest"] = "immediate"
    digest_at: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # Europe/Stockholm
    language: Literal["sv", "en"] = "sv"


class Co2eFactor(BaseModel):
    """One year's emission factor (settings `co2e_by_year`); without a source, `co2e_source` is named."""

    model_config = ConfigDict(extra="forbid")

    g_co2e_per_kwh: float = Field(ge=0, le=2000)
    source: str | None = Field(default=None, max_length=300)


class TopdeskSettings(BaseModel):
    """TOPdesk incidents for tickets (docs/tickets.md): Basic auth with an application password."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")  # e.g. https://municipality.topdesk.net
    username: str
    application_password: SecretStr | None = None
    application_password_file: Path | None = None
    caller_email: str | None = None  # callerLookup by e-mail; else caller.dynamicName
    caller_name: str = "avfleet"
    category: str | None = None
    subcategory: str | None = None
    priority_by_severity: dict[str, str] = Field(default_factory=dict)  # {"error": "P2", "warning": "P4"}
    closed_processing_status: str | None = None  # e.g. "Afgemeld" / "Closed"
    timeout_s: float = Field(default=15.0, gt=0, le=300)


def read_secret(value: SecretStr | None, file: Path | None, what: str) -> str | None:
    """A secret given inline or in a file (systemd credentials, Kubernetes secrets)."""
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{what}: cannot read {file}: {exc}") from None
    return None


class ControllerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AVFLEET_", extra="forbid", env_nested_delimiter="__")

    demo: bool = False
    data_dir: Path = Path("./var")
    database_url: str | None = None  # default: sqlite:///<data_dir>/avfleet.db in WAL mode

    broker_url: str = "mqtt://127.0.0.1:1883"
    broker_username: str | None = "avfleet-controller"
    broker_password: SecretStr | None = None
    broker_password_file: Path | None = None
    broker_ca_file: Path | None = None
    # The broker's packet limit (Mosquitto's max_packet_size; `avfleet broker config` writes both): a larger
    # outgoing message is refused before it is sent, since Mosquitto would drop our connection for it.
    broker_max_packet_bytes: int = Field(default=262_144, ge=1024, le=268_435_455)
    client_id: str = "avfleet-controller-1"
    # "3.1.1" only for the embedded development broker (amqtt speaks no MQTT 5): no ReceiveMaximum,
    # no broker-side command expiry, no shared subscriptions.
    mqtt_protocol: Literal["5", "3.1.1"] = "5"
    # Several controllers split ingest through `$share/avfleet-ingest/...`; see docs/controller.md.
    shared_subscription: bool = False
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    receive_maximum: int = Field(default=1000, ge=20, le=65535)

    # Validate and commit in a separate process, so the MQTT loop keeps its own core (sinks.py).
    writer_process: bool = True
    batch_max_rows: int = Field(default=500, ge=1, le=5000)
    batch_max_ms: int = Field(default=200, ge=1, le=10_000)
    dedup_retention_days: int = Field(default=14, ge=1)
    # An agent ts/observed_at further ahead of the receive time than this is clamped to it (ingest/clock.py).
    clock_skew_max_s: int = Field(default=300, ge=1)
    command_ttl_s: int = Field(default=300, ge=1, le=7 * 24 * 3600)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    api_tokens: list[SecretStr] = Field(default_factory=list)
    api_tokens_file: Path | None = None  # one token a line, added to api_tokens (systemd credentials)
    admin_user: str = "admin"
    admin_password: SecretStr | None = None
    admin_password_file: Path | None = None
    # A dashboard login lasts this long at most (auth/service.py); then the user logs in again.
    session_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 86_400)
    # ... and ends sooner when no request has come with its cookie for this long (the pages' own
    # refreshes count as requests; the last-seen time is written at most once a minute).
    session_idle_s: int = Field(default=2 * 3600, ge=60, le=30 * 86_400)
    # Slow and idle clients (api/slow_clients.py): an idle keep-alive connection is closed after
    # http_keep_alive_s, a request line and headers not complete within http_header_timeout_s.
    http_keep_alive_s: int = Field(default=5, ge=1, le=300)
    http_header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    public_url: str | None = None  # what the `dashboard:` line prints; default http://api_host:api_port/
    # Larger request bodies get 413 before parsing and before the token check (api/limits.py).
    max_request_bytes: int = Field(default=1_048_576, ge=1024, le=1024**3)

    # Tickets (DESIGN.md "Tickets"): rules, life cycle and notifications; see docs/tickets.md.
    language: Literal["sv", "en"] = "sv"  # ticket titles, e-mails
    ticket_rules: bool = True  # evaluate the rules as messages are ingested (off only to measure their cost)
    ticket_resolve_quiet_s: int = Field(default=600, ge=0)
    ticket_reopen_window_s: int = Field(default=86_400, ge=0)
    agent_lost_after_s: int = Field(default=120, ge=5)
    agent_lost_group_s: int = Field(default=60, ge=0)  # every agent of a school lost within this: one ticket
    lamp_life_warning: float = Field(default=0.9, gt=0, le=2)
    lamp_life_error: float = Field(default=1.0, gt=0, le=2)
    filter_life_warning: float = Field(default=0.9, gt=0, le=2)
    filter_life_error: float = Field(default=1.0, gt=0, le=2)
    notify_min_interval_s: int = Field(default=900, ge=0)
    notify_max_attempts: int = Field(default=12, ge=1, le=100)
    notify_retry_base_s: float = Field(default=5.0, gt=0, le=3600)
    webhooks: list[WebhookTarget] = Field(default_factory=list)
    smtp: SmtpSettings | None = None
    email: list[EmailRecipients] = Field(default_factory=list)
    topdesk: TopdeskSettings | None = None

    # Energy (DESIGN.md "Energy"; docs/energy.md). A year listed in co2e_by_year uses its own factor.
    school_hours: str = Field(default="07:00-17:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
    co2e_g_per_kwh: float = Field(default=59.0, ge=0, le=2000)
    co2e_source: str = Field(default="IVL, Nordic electricity mix incl. trade, 2021–2023", max_length=300)
    co2e_by_year: dict[int, Co2eFactor] = Field(default_factory=dict)

    # Schedules (DESIGN.md "Schedules and calendars"; docs/schedules.md).
    schedule_grace_s: int = Field(default=7200, ge=0)  # a run missed while down still runs this late
    schedule_command_ttl_s: int = Field(default=600, ge=10, le=24 * 3600)  # a run's power commands expire
    # kwh_saved assumes a device switched off would have stayed on until this local time on the next
    # school day; kwh_saved_max_h caps those hours (None: no cap).
    kwh_saved_resume_at: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    kwh_saved_max_h: float | None = Field(default=None, gt=0)
    # `avfleet controller` creates the default schedules when the database has none (docs/schedules.md).
    default_schedules: bool = True

    # Reports (docs/reports.md): the monthly inventory report (PDF) by e-mail through the outbox, on the 1st
    # (catching up for report_monthly_days days after it): {"Jönköping": [addresses], "county": [addresses]}.
    report_recipients: dict[str, list[str]] = Field(default_factory=dict)
    report_monthly_days: int = Field(default=3, ge=1, le=28)
    report_language: Literal["sv", "en"] = "sv"

    @model_validator(mode="after")
    def _secrets_from_files(self) -> ControllerSettings:
        # Read here, before the checks below, so a secret from a file is held to the same rules.
        if self.api_tokens_file is not None:
            lines = _read_file(self.api_tokens_file, "api_tokens_file").splitlines()
            known = {t.get_secret_value() for t in self.api_tokens}
            self.api_tokens = [*self.api_tokens, *(SecretStr(t) for t in (x.strip() for x in lines)
                                                   if t and t not in known)]
        if self.admin_password is None and self.admin_password_file is not None:
            self.admin_password = SecretStr(_read_file(self.admin_password_file, "admin_password_file"))
        return self

    @model_validator(mode="after")
    def _refuse_insecure_secrets(self) -> ControllerSettings:
        if self.receive_maximum < self.batch_max_rows:
            raise ValueError(f"receive_maximum ({self.receive_maximum}) must be at least batch_max_rows "
                             f"({self.batch_max_rows}), or batches stall waiting for messages the broker holds back")
        if self.shared_subscription and self.mqtt_protocol != "5":
            raise ValueError("shared_subscription needs mqtt_protocol 5")
        if self.demo:
            return self
        if not self.api_tokens:
            raise ValueError("api_tokens: at least one token is required outside demo mode "
                             "(set AVFLEET_API_TOKENS='[\"<32 random chars>\"]')")
        for token in self.api_tokens:
            _check_secret("api_tokens", token.get_secret_value())
        if self.admin_password is not None:
            _check_secret("admin_password", self.admin_password.get_secret_value())
        if self.broker_username and self.broker_password is None and self.broker_password_file is None:
            raise ValueError("broker_password: required outside demo mode (or broker_password_file, "
                             "as written by `avfleet broker config`)")
        if self.broker_password is not None:
            _check_secret("broker_password", self.broker_password.get_secret_value())
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'avfleet.db'}"

    def broker_secret(self) -> str | None:
        if self.broker_password is not None:
            return self.broker_password.get_secret_value()
        if self.broker_password_file is not None:
            try:
                return self.broker_password_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(f"broker_password_file: cannot read {self.broker_password_file}: {exc}") from None
        return None

    def broker_address(self) -> tuple[str, int, bool]:
        """(host, port, tls) from broker_url."""
        parts = urlsplit(self.broker_url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise SettingsError(f"broker_url: scheme must be mqtt:// or mqtts://, not {parts.scheme!r}")
        tls = parts.scheme == "mqtts"
        return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls

    def dashboard_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}/"


def _read_file(path: Path, field: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"{field}: cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise ValueError(f"{field}: {path} is empty")
    return value


def _check_secret(field: str, value: str) -> None:
    if value.strip().lower() in INSECURE_SECRETS or len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"{field}: refusing an empty, well-known or short secret outside demo mode "
                         f"(use at least {MIN_SECRET_LENGTH} random characters)")


def load_settings(config_file: Path | None = None, **overrides: Any) -> ControllerSettings:
    """Settings from (lowest first) defaults, a YAML file, the environment, then `overrides`.

    Every problem is reported (not only the first), each as `FILE:LINE: field: problem`; a value that
    came from the environment or an override is named so instead of a file line.
    """
    tree = _read_yaml(config_file) if config_file is not None else None
    file_values = plain(tree) if tree else {}
    explicit = {k: v for k, v in overrides.items() if v is not None}
    try:
        return _build(file_values, explicit)
    except ValidationError as exc:
        problems = _problems(exc, tree, config_file, explicit)
        raise SettingsError("\n".join(str(p) for p in problems), problems) from None


def _problems(exc: ValidationError, tree: Any, config_file: Path | None, explicit: dict[str, Any]) -> list[YamlProblem]:
    import os

    source = str(config_file) if config_file is not None else "controller settings"
    out = []
    for problem in validation_problems(exc, tree if tree is not None else {}, source, model=ControllerSettings):
        top = problem.field.split(".", 1)[0].split("[", 1)[0]
        env = f"AVFLEET_{top.upper()}"
        if top in explicit:
            problem = dataclasses.replace(problem, file="controller settings (given explicitly)", line=None)
        elif env in os.environ and (tree is None or top not in tree):
            problem = dataclasses.replace(problem, file=f"environment ${env}", line=None)
        elif tree is None or top not in tree:
            problem = dataclasses.replace(problem, file="controller settings", line=None)
        out.append(problem)
    return out


def _build(file_values: dict[str, Any], explicit: dict[str, Any]) -> ControllerSettings:
    # Init kwargs beat the environment in pydantic-settings; the file must sit below the environment.
    class _FileBelowEnv(ControllerSettings):
        model_config = SettingsConfigDict(env_prefix="AVFLEET_", extra="forbid", env_nested_delimiter="__")

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                       file_secret_settings):
            return env_settings, init_settings, file_secret_settings

        @model_validator(mode="after")
        def _refuse_insecure_secrets(self) -> ControllerSettings:  # checked once, on the merged result
            return self

    merged = _FileBelowEnv(**file_values).model_dump()
    merged.update(explicit)
    return ControllerSettings(**merged)


def _read_yaml(path: Path) -> Any:
    """The file's YAML tree (kept for line numbers), or None when it is empty."""
    try:
        tree = read_yaml_file(path)
    except YamlCheckError as exc:
        raise SettingsError(str(exc), exc.problems) from None
    if tree is not None and not isinstance(tree, dict):
        problem = YamlProblem(str(path), 1, "(file)", "the top level must be a mapping of settings")
        raise SettingsError(str(problem), [problem])
    return tree
