"""The container lifecycle: create, start, kill, delete, exec, run.

Each operation is one module; the CLI modules parse flags and call these.
"""
