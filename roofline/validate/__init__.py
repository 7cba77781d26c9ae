"""`roofline validate`: every usable measured row through the estimator, with the row's exact configuration.

Input files follow the normalized schema of ``profiles/measurements/SCHEMA.md`` (a copy of
``../shared/data/measurements/SCHEMA.md``): a training file has ``seq_len`` and ``global_batch``
columns, an inference file ``input_len`` and ``output_len``. A row is *used* when ``usable`` is ``yes``;
every other row, and every usable row this estimator cannot express, is listed as skipped with its
reason, never dropped silently. A file that cannot be read, or lacks the schema's columns, is an error.

How each row is expressed (the conventions are the sources', stated in SCHEMA.md):

* **Model**: from the row's architecture columns. ``llama``: SwiGLU, RMSNorm, rotary, untied
  embeddings. ``gpt``: GELU MLP of ``ffn_hidden``, LayerNorm, tied embeddings; for the Megatron-LM
  rows of Narayanan et al. 2021 also biases in every linear layer, learned positions and dropout 0.1,
  and (2021) neither FlashAttention nor sequence parallelism; other ``gpt`` rows (MPT) use ALiBi, no biases,
  FlashAttention. ``moe`` / ``mla_moe``: the profile of ``model_ref`` (below).
* **Training metrics** from one training estimate of the row's layout: ``tokens_per_s_per_chip`` and
  ``step_time_s`` directly; ``hfu`` / ``hardware_tflops_per_chip`` and ``mfu`` /
  ``model_tflops_per_chip`` as the source counts FLOPs (Narayanan eq. (3); MosaicML's
  3·(2·N·s + 4·L·h·s²) per sequence; otherwise this tool's model and executed FLOPs) over the
  *estimated* step time, so that only step times are compared. Peaks: the chip's dense peak at the
  row's ``precision``. Blank ``zero``: 3 for FSDP sources (FULL_SHARD is FSDP's default), else 0; blank
  ``virtual_pp``: 1; blank ``cp``: 1; blank ``recompute``: none.
  Kernels as each source ran them: IBM and Meta's FSDP rows eager (Meta's reference Llama code op by op,
  :func:`roofline.validate.schema.eager_pytorch`); Megatron-LM fused (its fused LayerNorm, bias-GELU and
  softmax kernels); MosaicML's MPT blocks (LayerNorm, GELU, ALiBi inside the Triton FlashAttention kernel,
  which takes and returns the tokens-major layout) are the same kernels eager or compiled: the default, fused.
* **Inference metrics**. The engine is the row's ``engine`` column, else read from its ``framework``
  (TensorRT-LLM, SGLang, vLLM, else generic). ``batch = max``: the serving simulation at
  ``--concurrency max``, throughput over the whole run including every prefill. A fixed ``batch`` with
  both lengths and a TPOT or TTFT metric: the simulation with a closed-loop client of that many users
  (SCHEMA.md: "model them with a serving model of that engine"); with a throughput metric, waves of that
  batch, each one prefill of the batch plus ``output_len`` decode steps. ``output_len = 0``: prefill
  only. Blank ``output_len``: steady-state decode at a context of ``input_len``. Whole-deployment rates
  count ``num_chips / (tp x pp)`` replicas. A blank ``kv_dtype`` follows ``kv_when_blank``: "engine" (the
  default, the product's rule) is the engine's default KV format for the checkpoint (``Engine.kv_auto``:
  vLLM and SGLang the model's 16-bit format, TensorRT-LLM the format the checkpoint declares); "weights"
  (8-bit with fp8 weights) and explicit formats remain as sensitivity studies.
* **Serving runs** (``serving.csv``, aggregated): the row's engine simulated with a closed-loop client at
  the row's concurrency; ``tp``, ``attn_dp``, ``moe_tp`` and ``moe_ep`` give this tool's tp, ep and
  ``dp_attention`` (:func:`roofline.validate.predict.serving_layout`). Disaggregated runs
  (``serving_mode = disagg``): both pools as stated (workers, layouts read by the same rule from the
  ``prefill_*`` and ``decode_*`` columns, batches per attention group) on the row's chip, simulated under
  the closed-loop client at the row's concurrency (:mod:`roofline.validate.disagg`).
  MoE rows take the model profile of ``model_ref`` (the schema's columns cannot describe dense layers,
  shared experts, MLA or the layer mix: gpt-oss-120b, Qwen3.5-397B-A17B) and ``ep > tp`` means data-parallel
  attention groups; rows with speculative decoding are skipped (the accepted tokens per step are not
  stated). fp4 weights on a chip without fp4 tensor cores (gpt-oss's MXFP4 on Hopper) are priced as the
  weight-only 4-bit format ``int4`` (0.5 bytes, 16-bit GEMMs), as the engines run them there
  (:func:`roofline.validate.predict.row_dtypes`); ``estimate`` refuses fp4 on such a chip and lists int4
  among the formats to use.

Modules: ``schema`` reads the files and turns a row into a chip and a model, ``predict`` prices a row
exactly as stated, ``run`` runs every row and collects the results
(:class:`~roofline.results.validation.Validation`).
"""
