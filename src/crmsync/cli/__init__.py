"""The ``crmsync`` command line."""
