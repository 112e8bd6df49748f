"""Users, roles, API tokens, dashboard sessions, municipality tenancy and the audit trail (docs/users.md)."""
