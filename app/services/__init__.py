"""Use cases, one module per domain. No Flask imports: handlers and jobs both call these."""
