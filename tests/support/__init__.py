"""Test support: in-process routing to emulators, OAuth form driving, draining the engine."""
