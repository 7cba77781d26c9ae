"""Serving: the static batch estimate (``static``), the in-flight engine at a concurrency or request rate
(``inflight``) and the serving planner (``planner``). Pricing one replica's passes is :mod:`roofline.passes`."""
