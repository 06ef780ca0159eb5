"""The pure monitoring domain: states, schedules, specs and state transitions.

Nothing here does I/O or reads the clock: every function that needs the time takes
``now`` as an argument, so the rules are plain table-driven tests.
"""
