"""The ``matcher`` command line: one module per group of commands (see :mod:`matcher.cli.main`)."""
