"""Analyses over many estimates: the verdict's reference run (``reference``), probes of one layout across
batches and TP sizes (``probes``), training at scale, cost and export-control figures (``economics``)
and chips side by side (``compare``)."""
