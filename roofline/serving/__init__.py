"""Serving: passes of one replica priced (``passes``), the static batch estimate (``static``), the in-flight
engine at a concurrency or request rate (``inflight``) and the serving planner (``planner``)."""
