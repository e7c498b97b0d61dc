"""gunicorn settings read from the working directory (`gunicorn wsgi:app` picks this file up).

Workers, threads and the bind address stay on the command line (see README, "Production").
"""

import os


def child_exit(server, worker):
    # With PROMETHEUS_MULTIPROC_DIR, a dead worker's live gauges must not be summed forever.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
