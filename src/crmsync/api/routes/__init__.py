"""Thin routes: parse, call a service, kick the queue after commit, answer."""
