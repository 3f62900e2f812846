"""The sync engine: outbox, planner, runner, tokens and the task queue."""
