"""The daemon: ``service`` (the supervisor loop), ``schedule``, ``lease`` (fleets),
``http`` (/healthz, /metrics), ``sdnotify`` and ``logs``."""
