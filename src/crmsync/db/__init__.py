"""Storage: tables, sessions and migrations."""
