"""The ``driftd`` command: ``main`` (the group and the pipeline commands), ``util``
(shared options and exit codes), ``daemon_commands`` (run, status, history, ...)."""
