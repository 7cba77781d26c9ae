"""Training: the workload and its checks (``workload``), one layout priced (``estimate``) and the layout
planner (``planner``)."""
