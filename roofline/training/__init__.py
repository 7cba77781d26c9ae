"""Training: one complete layout priced (``estimate``) and the layout planner (``planner``); the workload and
its checks are :class:`roofline.workload.TrainingWorkload`."""
