"""The scheduler process: one module per job, one schedule table (jobs.schedule)."""
