"""The ``rnnkit`` command line."""
