"""Each measured row priced exactly as it was run (conventions in :mod:`roofline.validate`)."""

from __future__ import annotations

import importlib.util
from concurrent.futures import Executor, Future

import attrs

from roofline.checkpoint import runs_as
from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.engines import Engine
from roofline.errors import RooflineError
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.passes import Packed
from roofline.results.validation import source_name
from roofline.serving.inflight import estimate_serving
from roofline.training.estimate import estimate_training
from roofline.validate.schema import (
    INFERENCE_METRICS, SERVING_METRICS, TRAINING_METRICS, RowError, cell, eager_pytorch, megatron_2021, positive_cell,
    whole_cell,
)
from roofline.workload import RECOMPUTE_MODES, TRAIN_DTYPES, TrainingWorkload, Workload, check_layout, with_engine_kv

#: Validation simulates about a thousand benchmarks: compiled, as a sweep is (the first run compiles the
#: simulator once and says so); one estimate stays in plain Python.
SIMULATE_COMPILED = True if importlib.util.find_spec("numba") is not None else None


def _training_workload(row: dict):
    precision = cell(row, "precision")
    if precision not in TRAIN_DTYPES:
        raise RowError(f"precision={precision!r}: training matmuls are modelled in {', '.join(TRAIN_DTYPES)}")
    recompute = cell(row, "recompute") or "none"
    if recompute not in RECOMPUTE_MODES:
        raise RowError(f"recompute={recompute!r} is not one of {', '.join(RECOMPUTE_MODES)}")
    fsdp = "fsdp" in cell(row, "source").lower()
    zero = whole_cell(row, "zero", 3 if fsdp else 0)
    if zero > 3:
        raise RowError(f"zero={zero} is not a ZeRO stage 0-3")
    sp = cell(row, "sequence_parallel")
    megatron = megatron_2021(row)
    return TrainingWorkload(
        num_chips=positive_cell(row, "num_chips"), tp=positive_cell(row, "tp", 1), pp=positive_cell(row, "pp", 1),
        dp=positive_cell(row, "dp"), cp=positive_cell(row, "cp", 1), micro_batch=positive_cell(row, "micro_batch"),
        global_batch=positive_cell(row, "global_batch"), seq_len=positive_cell(row, "seq_len"), recompute=recompute,
        zero=zero, dtype=precision, virtual_pp=positive_cell(row, "virtual_pp", 1),
        sequence_parallel=False if megatron else (None if not sp else sp == "yes"),
        flash_attention=not megatron, dropout=megatron, ep=positive_cell(row, "ep", 1),
        kernels="eager" if eager_pytorch(row) else "fused")


def predict_training(row: dict, chip: Chip, model: Model):
    """(predicted metric, the TrainingEstimate). A measured run that the memory model says does not fit
    is still timed (it ran); ``fits`` is reported with the row."""
    est = estimate_training(chip, model, _training_workload(row))
    metric = cell(row, "metric_std")
    return _training_metric(row, chip, model, est, metric), est


def _training_metric(row, chip, model, est, metric) -> float:
    wl = est.workload
    n, s, B, step = wl.num_chips, wl.seq_len, wl.batch(), est.step_time_s
    if metric == "tokens_per_s_per_chip":
        return est.tokens_per_s_per_chip
    if metric == "step_time_s":
        return step
    peak = chip.peak(wl.dtype)
    src = source_name(cell(row, "source"))
    if metric in ("hfu", "hardware_tflops_per_chip"):
        if src.startswith("Megatron"):
            layers, h, V = model.num_layers, model.hidden_size, model.vocab_size
            flops = 96 * B * s * layers * h * h * (1 + s / (6 * h) + V / (16 * layers * h)) / n
        else:
            flops = est.hardware_flops_per_chip
        per_chip = flops / step
        return per_chip / 1e12 if metric == "hardware_tflops_per_chip" else per_chip / peak
    if metric in ("mfu", "model_tflops_per_chip"):
        if src.startswith("MosaicML"):
            per_seq = 3 * (2 * model.param_count() * s + model.num_layers * 4 * model.hidden_size * s * s)
            flops = per_seq * B / n
        else:
            flops = est.model_flops_per_chip
        per_chip = flops / step
        return per_chip / 1e12 if metric == "model_tflops_per_chip" else per_chip / peak
    raise RowError(f"metric_std={metric!r} is not a training metric ({', '.join(TRAINING_METRICS)})")


def row_engine(row: dict) -> str:
    """The engine of a row: its ``engine`` column, else read from its ``framework`` column."""
    if cell(row, "engine") in ENGINES:
        return cell(row, "engine")
    fw = cell(row, "framework").lower()
    if "tensorrt" in fw or "trt" in fw:
        return "trtllm"
    if "sglang" in fw:
        return "sglang"
    if "vllm" in fw:
        return "vllm"
    return "generic"


def row_dtypes(row: dict, kv_when_blank: str, model: Model, engine: Engine,
               chip: Chip | None = None) -> tuple[str, str | None]:
    """(weight dtype, KV dtype) of a row; a blank KV dtype read by ``kv_when_blank`` (see KV_WHEN_BLANK).

    fp4 weights on a ``chip`` without fp4 tensor cores (Hopper) run as a weight-only 4-bit format: the
    engines dequantise them to 16 bit in the GEMM (vLLM's Marlin and Triton MXFP4 MoE kernels on Hopper), which
    is roofline's ``int4`` (0.5 bytes stored, 16-bit compute); fp8 on a chip without fp8 likewise runs as
    ``int8``. The same rule (:func:`roofline.checkpoint.runs_as`) gives ``estimate`` its default format for a
    quantised checkpoint on such a chip."""
    wd = cell(row, "weight_dtype") or cell(row, "precision")
    if wd not in WEIGHT_DTYPES:
        raise RowError(f"weight_dtype={wd!r} is not one of {', '.join(WEIGHT_DTYPES)}")
    kv = cell(row, "kv_dtype") or None
    if kv is None and kv_when_blank == "engine":
        kv = with_engine_kv(Workload(weight_dtype=wd), model, engine.kv_auto).kv_dtype
    elif kv is None:
        kv = ("fp8" if wd == "fp8" else None) if kv_when_blank == "weights" else kv_when_blank
    if kv is not None and kv not in KV_DTYPES:
        raise RowError(f"kv_dtype={kv!r} is not one of {', '.join(KV_DTYPES)}")
    return (wd if chip is None else runs_as(wd, chip)), kv


def predict_inference(row: dict, chip: Chip, model: Model, kv_when_blank: str = "engine",
                      engines: dict[str, Engine] | None = None) -> float:
    metric = cell(row, "metric_std")
    if metric not in INFERENCE_METRICS:
        raise RowError(f"metric_std={metric!r} is not an inference metric ({', '.join(INFERENCE_METRICS)})")
    if cell(row, "speculative"):
        raise RowError(f"speculative={cell(row, 'speculative')!r}: the accepted tokens per step are not "
                       f"stated, so speculative decoding cannot be expressed")
    tp, pp, n = positive_cell(row, "tp", 1), positive_cell(row, "pp", 1), positive_cell(row, "num_chips")
    ep = positive_cell(row, "ep", 1)
    replica_chips = max(tp, ep) * pp
    if n % replica_chips and replica_chips % n:
        raise RowError(f"num_chips={n} is neither a multiple nor a divisor of the replica's max(tp, ep) x pp = "
                       f"{replica_chips}")
    # whole-deployment rates: replicas of max(tp, ep) x pp chips; a per-node share of a larger replica
    # (num_chips < replica chips) is that fraction of the replica
    replicas = n / replica_chips
    engine = (engines or ENGINES)[row_engine(row)]
    wd, kv = row_dtypes(row, kv_when_blank, model, engine, chip)
    i_len = positive_cell(row, "input_len")
    o_raw = cell(row, "output_len")
    o_len = whole_cell(row, "output_len") if o_raw else None
    batch_cell = cell(row, "batch")
    try:
        check_layout(chip, model, Workload(batch=1, input_len=i_len, output_len=max(o_len or 1, 1), tp=tp, pp=pp,
                                           weight_dtype=wd, kv_dtype=kv, ep=ep))
    except RooflineError as exc:
        raise RowError(str(exc)) from None
    if batch_cell == "max":
        if not o_len:
            raise RowError("batch=max needs both input_len and output_len")
        wl = Workload(batch=1, input_len=i_len, output_len=o_len, tp=tp, pp=pp, weight_dtype=wd, kv_dtype=kv, ep=ep)
        try:
            srv = estimate_serving(chip, model, wl, engine=engine, concurrency="max", use_numba=SIMULATE_COMPILED)
        except RooflineError as exc:
            raise RowError(str(exc)) from None
        rates = {"output_tokens_per_s": srv.output_tokens_per_s * replicas,
                 "total_tokens_per_s": srv.requests_per_s * (i_len + o_len) * replicas,
                 "input_tokens_per_s": srv.requests_per_s * i_len * replicas,
                 "output_tokens_per_s_per_chip": srv.output_tokens_per_s / replica_chips,
                 "tpot_s": srv.tpot_s, "ttft_s": srv.ttft_s}
        return rates[metric]
    total = positive_cell(row, "batch")
    b = total / replicas
    if abs(b - round(b)) > 1e-9 or b < 1:
        raise RowError(f"batch={total} does not split evenly over the {replicas:g} replicas of max(tp, ep) x pp = "
                       f"{replica_chips} chips")
    b = int(round(b))
    if metric in ("tpot_s", "ttft_s") and o_len:
        # a latency measured at a fixed number of requests in flight: the engine under a closed-loop client
        wl = Workload(batch=1, input_len=i_len, output_len=o_len, tp=tp, pp=pp, weight_dtype=wd, kv_dtype=kv, ep=ep)
        try:
            srv = estimate_serving(chip, model, wl, engine=engine, concurrency=b, use_numba=SIMULATE_COMPILED)
        except RooflineError as exc:
            raise RowError(str(exc)) from None
        return srv.tpot_s if metric == "tpot_s" else srv.ttft_s
    wl = Workload(batch=b, input_len=i_len, output_len=max(o_len or 1, 1), tp=tp, pp=pp, weight_dtype=wd,
                  kv_dtype=kv, ep=ep)
    p = Packed(chip, model, wl, engine)
    if not p.fits(b):
        raise RowError(f"batch {b} per replica does not fit in memory at tp={tp}, pp={pp}, ep={ep}")
    # throughputs count the passes only: the engine's time per request outside its steps overlaps them
    prefill = p.prefill(b).time_s
    if o_len == 0:  # prefill only
        rates = {"input_tokens_per_s": b * i_len / prefill * replicas, "ttft_s": float(p.ttft(b))}
    elif o_len is None:  # steady-state decode at context input_len
        tpot = float(p.tpot(b))
        rates = {"output_tokens_per_s": b / tpot * replicas, "output_tokens_per_s_per_chip": b / tpot / replica_chips,
                 "tpot_s": tpot}
    else:  # waves: one prefill of the batch, then output_len decode steps
        ttft, tpot = float(p.ttft(b)), float(p.tpot(b))
        wave = prefill + o_len * tpot
        rates = {"output_tokens_per_s": b * o_len / wave * replicas,
                 "total_tokens_per_s": b * (i_len + o_len) / wave * replicas,
                 "input_tokens_per_s": b * i_len / wave * replicas,
                 "output_tokens_per_s_per_chip": b * o_len / wave / replica_chips, "tpot_s": tpot, "ttft_s": ttft}
    if metric not in rates:
        raise RowError(f"metric_std={metric} is not defined for this row's shape (batch={batch_cell}, "
                       f"output_len={o_raw or 'blank'})")
    return rates[metric]


def serving_layout(row: dict, model: Model, prefix: str = "") -> tuple[int, int, int, int]:
    """(tp, pp, ep, dp_attention) of a serving row (or of its pool ``prefix``) in this tool's convention:
    attention TP ``tp`` inside each of ``attn_dp`` data-parallel attention groups, the MoE layers over
    ``moe_tp x moe_ep = tp x attn_dp`` chips. ep <= tp splits each expert ``tp / ep`` ways inside the TP group
    (``attn_dp`` 1); ep > tp keeps experts whole (``moe_tp`` 1) with ``ep / tp`` attention groups; every expert
    split over all the groups' chips (``moe_ep`` 1) is ``Workload.dp_attention`` (SGLang's DP attention with
    TP MoE)."""
    tp, pp = positive_cell(row, prefix + "tp", 1), positive_cell(row, prefix + "pp", 1)
    attn_dp = positive_cell(row, prefix + "attn_dp", 1)
    if not model.is_moe:
        if attn_dp != 1:
            raise RowError(f"attn_dp={attn_dp} with a dense model: data-parallel attention replicas are not "
                           f"expressed in one worker")
        return tp, pp, 1, 1
    moe_tp, moe_ep = positive_cell(row, prefix + "moe_tp", 1), positive_cell(row, prefix + "moe_ep", 1)
    if moe_tp * moe_ep != tp * attn_dp:
        raise RowError(f"moe_tp x moe_ep = {moe_tp}x{moe_ep} is not tp x attn_dp = {tp}x{attn_dp}")
    if attn_dp == 1 and tp % moe_ep == 0:
        return tp, pp, moe_ep, 1
    if moe_tp == 1:
        return tp, pp, moe_ep, 1
    if moe_ep == 1:
        return tp, pp, 1, attn_dp
    raise RowError(f"attn_dp={attn_dp} with moe_tp={moe_tp} and moe_ep={moe_ep}: experts both split and spread "
                   f"across data-parallel attention groups are not expressed")


def serving_case(row: dict, chip: Chip, model: Model, kv_when_blank: str = "engine",
                 engines: dict[str, Engine] | None = None) -> tuple[Workload, Engine, int]:
    """(workload, engine, client concurrency) of an aggregated serving row, as the simulation runs it; the
    row's reason when it cannot be expressed."""
    if cell(row, "metric_std") not in SERVING_METRICS:
        raise RowError(f"metric_std={cell(row, 'metric_std')!r} is not a serving metric ({', '.join(SERVING_METRICS)})")
    mode = cell(row, "serving_mode")
    if mode != "agg":
        raise RowError(f"serving_mode={mode!r}: disaggregated serving (separate prefill and decode workers) is not "
                       f"modelled yet")
    if cell(row, "speculative"):
        raise RowError(f"speculative={cell(row, 'speculative')!r}: speculative decoding is not expressed here")
    engine = (engines or ENGINES).get(row_engine(row))
    if engine is None:
        raise RowError(f"engine={cell(row, 'engine')!r} is not one of {', '.join(ENGINES)}")
    tp, pp, ep, dp = serving_layout(row, model)
    wd, kv = row_dtypes(row, kv_when_blank, model, engine, chip)
    wl = Workload(batch=1, input_len=positive_cell(row, "input_len"), output_len=positive_cell(row, "output_len"),
                  tp=tp, pp=pp, weight_dtype=wd, kv_dtype=kv, ep=ep, dp_attention=dp)
    try:
        check_layout(chip, model, wl)
    except RooflineError as exc:
        raise RowError(str(exc)) from None
    return wl, engine, positive_cell(row, "batch")


def predict_serving(row: dict, chip: Chip, model: Model, kv_when_blank: str = "engine",
                    engines: dict[str, Engine] | None = None, cache: dict | None = None) -> float:
    """The mean TPOT or TTFT of a measured serving run: its worker simulated step by step under the closed-loop
    client at the row's concurrency, with the row's engine (:func:`roofline.serving.inflight.estimate_serving`).
    Runs with the same configuration share one simulation through ``cache``."""
    wl, engine, users = serving_case(row, chip, model, kv_when_blank, engines)
    return cached_latency(row, cache, (chip, model.name, wl, engine, users),
                          lambda: estimate_serving(chip, model, wl, engine=engine, concurrency=users,
                                                   use_numba=SIMULATE_COMPILED))


class Runs(dict):
    """Simulated serving runs by configuration, shared by the rows of one run (TTFT and TPOT). Given a thread
    pool, a configuration seen first is submitted to it and :func:`cached_latency` returns a :class:`Pending`
    latency: the compiled simulators release the GIL, so each core simulates a run while the rows go on."""

    def __init__(self, pool: Executor | None = None):
        super().__init__()
        self.pool = pool


@attrs.frozen
class Pending:
    """A row's latency from a simulation that may still be running."""

    outcome: Future
    metric: str

    def value(self) -> float:
        """Wait for the simulation; its TPOT or TTFT, or the RowError of a configuration that cannot run."""
        return latency_of(self.outcome.result(), self.metric)


def _outcome(simulate):
    try:
        return simulate()
    except RooflineError as exc:
        return RowError(str(exc))


def latency_of(result, metric: str) -> float:
    """The mean TPOT or TTFT of a serving result, or its configuration's reason it cannot run, raised."""
    if isinstance(result, RowError):
        raise result
    return result.tpot_s if metric == "tpot_s" else result.ttft_s


def cached_latency(row: dict, cache: dict | None, key, simulate) -> float | Pending:
    """The row's mean TPOT or TTFT from ``simulate()`` (a serving result), run once per ``key`` in ``cache``;
    a configuration that cannot run keeps its reason there and raises it for every row of it. With a
    :class:`Runs` cache that has a pool, a :class:`Pending` latency instead."""
    cache = {} if cache is None else cache
    pool = getattr(cache, "pool", None)
    if key not in cache:
        cache[key] = pool.submit(_outcome, simulate) if pool is not None else _outcome(simulate)
    if pool is not None:
        return Pending(cache[key], cell(row, "metric_std"))
    return latency_of(cache[key], cell(row, "metric_std"))
