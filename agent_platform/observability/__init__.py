"""Metrics, logs and traces of every platform process (issue 12 §3).

Kept below `services/` in the dependency direction (like `db` and `settings`): the engine, the
gateway and the tools call into it, and it imports nothing of theirs.
"""
