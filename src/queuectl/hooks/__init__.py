"""Hooks (SPEC §13): events sent to HTTP endpoints or shell commands.

- :mod:`.events`: event names, the JSON body every hook receives, and the retry schedule.
- :mod:`.signing`: Standard Webhooks signatures.
- :mod:`.delivery`: one HTTP POST, or one shell callback, with its outcome.

Nothing here reads the clock to decide anything or touches the store: the supervisors'
maintenance step (built on the outbox of issue 13's second phase) passes times and rows in.
"""
