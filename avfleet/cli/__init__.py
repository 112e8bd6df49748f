"""The `avfleet` command line. Each domain registers its own commands (see main.build_app)."""
