"""The domain: what crmsync talks about, in plain data, importing nothing else of crmsync.

The database layer persists these, the engine decides with them, connectors produce them.
"""
