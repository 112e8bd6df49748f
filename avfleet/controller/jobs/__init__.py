"""Periodic work of the controller: a lease row per job, so several controller processes run it once."""
