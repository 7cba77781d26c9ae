"""Presentation: plain-text reports (``text``, ``estimate``, ``plans``, ``listing``, ``compare``), sweep rows as
CSV or JSON with a progress bar (``sweep``), pictures (``plots``) and atomic file writes (``files``)."""
