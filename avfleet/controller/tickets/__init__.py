"""Service tickets opened from device and agent conditions (DESIGN.md "Tickets"; docs/tickets.md)."""
