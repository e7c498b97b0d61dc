"""CLI command modules, one group each; app.cli registers them."""
