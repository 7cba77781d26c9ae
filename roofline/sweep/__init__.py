"""Sweeps: every combination of chips, models, batches, lengths, layouts and formats, priced at once.

    >>> from roofline import sweep
    >>> s = sweep(["H20", "H100"], ["8B", "70B"], batch="1:256:x2", input_len="1k,8k", tp=[1, 2, 4, 8])
    >>> s["tpot_s"], s["output_tokens_per_s_per_chip"]      # doctest: +SKIP
    >>> best = sweep("H20,H100", "70B", batch="1:512", reduce="best", max_tpot_s=0.05)  # doctest: +SKIP

A result maps column names to numpy arrays, one row per configuration (``pandas.DataFrame(s)`` works,
pandas is not needed). Each configuration is priced by the same scalar kernels as
``roofline estimate`` (:mod:`roofline.kernels.sweep` loops over them), compiled with numba when it is
installed and spread over the cores when the sweep is large; ``use_numba=False`` runs the very same
kernel as plain Python. ``reduce="best"`` keeps, per chip and model, the feasible configuration with
the highest output tokens/s per chip; ``reduce="pareto"`` keeps the front of tokens/s per chip against
tokens/s per user. Both run inside the kernel, so memory does not grow with the number of
configurations. A configuration is feasible when it fits and meets ``max_tpot_s`` and ``max_ttft_s``.

``engine=None`` prices a static batch as ``roofline estimate`` does (TTFT: the prefill of the whole
batch; TPOT: the decode step at the mean context); an engine name (``generic``, ``vllm``, ``sglang``,
``trtllm``) prices ``batch`` requests in flight on an in-flight-batching replica as
``roofline estimate --concurrency`` does.

Modules: ``axes`` parses the axes, ``grid`` loads and packs every group, ``run`` prices the grid with the
kernels of :mod:`roofline.kernels.sweep` (threads, reductions) and ``result`` holds the named columns.
"""
