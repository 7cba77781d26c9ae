"""Each measured row priced exactly as it was run (conventions in :mod:`roofline.validate`)."""

from __future__ import annotations

from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.passes import Packed
from roofline.results.validation import source_name
from roofline.serving.inflight import estimate_serving
from roofline.training.estimate import estimate_training
from roofline.validate.schema import (
    INFERENCE_METRICS, TRAINING_METRICS, RowError, cell, megatron_2021, positive_cell, whole_cell,
)
from roofline.workload import RECOMPUTE_MODES, TRAIN_DTYPES, TrainingWorkload, Workload, check_layout

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
        flash_attention=not megatron, dropout=megatron, ep=positive_cell(row, "ep", 1))


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


def _engine(row: dict) -> str:
    fw = cell(row, "framework").lower()
    if "tensorrt" in fw or "trt" in fw:
        return "trtllm"
    if "sglang" in fw:
        return "sglang"
    if "vllm" in fw:
        return "vllm"
    return "generic"


def _inference_dtypes(row: dict, kv_when_blank: str) -> tuple[str, str | None]:
    wd = cell(row, "weight_dtype") or cell(row, "precision")
    if wd not in WEIGHT_DTYPES:
        raise RowError(f"weight_dtype={wd!r} is not one of {', '.join(WEIGHT_DTYPES)}")
    kv = cell(row, "kv_dtype")
    if not kv:
        kv = ("fp8" if wd == "fp8" else None) if kv_when_blank == "weights" else kv_when_blank
    if kv is not None and kv not in KV_DTYPES:
        raise RowError(f"kv_dtype={kv!r} is not one of {', '.join(KV_DTYPES)}")
    return wd, kv


def predict_inference(row: dict, chip: Chip, model: Model, kv_when_blank: str = "weights") -> float:
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
    wd, kv = _inference_dtypes(row, kv_when_blank)
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
            srv = estimate_serving(chip, model, wl, engine=_engine(row), concurrency="max")
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
    wl = Workload(batch=b, input_len=i_len, output_len=max(o_len or 1, 1), tp=tp, pp=pp, weight_dtype=wd,
                  kv_dtype=kv, ep=ep)
    p = Packed(chip, model, wl)
    if not p.fits(b):
        raise RowError(f"batch {b} per replica does not fit in memory at tp={tp}, pp={pp}, ep={ep}")
    if o_len == 0:  # prefill only
        ttft = float(p.ttft(b))
        rates = {"input_tokens_per_s": b * i_len / ttft * replicas, "ttft_s": ttft}
    elif o_len is None:  # steady-state decode at context input_len
        tpot = float(p.tpot(b))
        rates = {"output_tokens_per_s": b / tpot * replicas, "output_tokens_per_s_per_chip": b / tpot / replica_chips,
                 "tpot_s": tpot}
    else:  # waves: one prefill of the batch, then output_len decode steps
        ttft, tpot = float(p.ttft(b)), float(p.tpot(b))
        wave = ttft + o_len * tpot
        rates = {"output_tokens_per_s": b * o_len / wave * replicas,
                 "total_tokens_per_s": b * (i_len + o_len) / wave * replicas,
                 "input_tokens_per_s": b * i_len / wave * replicas,
                 "output_tokens_per_s_per_chip": b * o_len / wave / replica_chips, "tpot_s": tpot, "ttft_s": ttft}
    if metric not in rates:
        raise RowError(f"metric_std={metric} is not defined for this row's shape (batch={batch_cell}, "
                       f"output_len={o_raw or 'blank'})")
    return rates[metric]
