"""Schedules that power devices off (or on) by scope and local time, and the reports of their runs."""
