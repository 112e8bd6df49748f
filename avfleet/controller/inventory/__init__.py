"""The controller's inventory domain: the physical unit behind each device id (see docs/controller.md)."""
