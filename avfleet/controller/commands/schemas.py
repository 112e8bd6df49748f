"""API bodies of the commands domain.

`CommandItem` is the stored command (models.CommandBase) under its API id. `CommandRequest` is what
a caller asks for: a target and a time to live, not stored columns, so it is declared here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from avfleet.controller.commands.models import CommandBase
from avfleet.protocols.mqtt.payloads import Action


class CommandRequest(BaseModel):
    action: Action
    device_id: str | None = Field(default=None, description="Target device; omit only for refresh")
    agent_id: str | None = Field(default=None, description="Needed when the device id exists on several agents, "
                                 "or for refresh of a whole agent")
    args: dict[str, Any] = Field(default_factory=dict, description='set_input: {"input": "31"}; av_mute: {"on": true}')
    ttl_s: int | None = Field(default=None, ge=1, le=7 * 24 * 3600,
                              description="Seconds before the command expires (default from settings)")


class CommandItem(CommandBase):
    id: str = Field(description="The command_id the agent answers with")


# The stored columns the API shows as they are: the queries select exactly these.
COMMAND_COLUMNS = tuple(CommandBase.model_fields)
