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
  FlashAttention. ``moe`` / ``mla_moe``: skipped until the estimator models experts.
* **Training metrics** from one training estimate of the row's layout: ``tokens_per_s_per_chip`` and
  ``step_time_s`` directly; ``hfu`` / ``hardware_tflops_per_chip`` and ``mfu`` /
  ``model_tflops_per_chip`` as the source counts FLOPs (Narayanan eq. (3); MosaicML's
  3·(2·N·s + 4·L·h·s²) per sequence; otherwise this tool's model and executed FLOPs) over the
  *estimated* step time, so that only step times are compared. Peaks: the chip's dense peak at the
  row's ``precision``. Blank ``zero``: 3 for FSDP sources (FULL_SHARD is FSDP's default), else 0; blank
  ``virtual_pp``: 1; blank ``cp``: 1; blank ``recompute``: none.
* **Inference metrics**. ``batch = max``: the serving model at ``--concurrency max`` with the engine
  of the ``framework`` column (TensorRT-LLM, SGLang, vLLM, else generic), throughput over the whole run
  including every prefill. A fixed ``batch`` with both lengths: waves of that batch, each one prefill of
  the batch plus ``output_len`` decode steps. ``output_len = 0``: prefill only. Blank ``output_len``:
  steady-state decode at a context of ``input_len``. Whole-deployment rates count
  ``num_chips / (tp x pp)`` replicas. A blank ``kv_dtype`` follows ``kv_when_blank`` ("weights": an 8-bit
  KV cache when the weights are fp8, as FP8 checkpoints quantize the KV cache too, else 16-bit; or an
  explicit dtype). MoE rows take the model profile of ``model_ref`` (the schema's columns cannot describe
  dense layers, shared experts or MLA) and ``ep > tp`` means data-parallel attention groups; rows with
  speculative decoding are skipped (the accepted tokens per step are not stated).
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

import attrs

from roofline.chip import Chip, load_chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError
from roofline.model import MODELS, Model, load_model
from roofline.registry import profiles_dir

TRAINING_METRICS = ("tokens_per_s_per_chip", "mfu", "hfu", "model_tflops_per_chip", "hardware_tflops_per_chip",
                    "step_time_s")
INFERENCE_METRICS = ("output_tokens_per_s", "total_tokens_per_s", "input_tokens_per_s",
                     "output_tokens_per_s_per_chip", "tpot_s", "ttft_s")
COMMON_COLUMNS = ("row_id", "usable", "chip_profile", "model_ref", "arch", "layers", "hidden", "heads", "kv_heads",
                  "head_dim", "ffn_hidden", "vocab", "precision", "num_chips", "tp", "pp", "metric_std", "value_std",
                  "source")
TRAINING_COLUMNS = ("dp", "micro_batch", "global_batch", "seq_len", "recompute")
INFERENCE_COLUMNS = ("weight_dtype", "kv_dtype", "batch", "input_len", "output_len")
KV_WHEN_BLANK = ("weights", *KV_DTYPES)


class RowError(Exception):
    """A row this estimator cannot express; the message is the reason shown as skipped."""


@attrs.frozen
class RowResult:
    row_id: str
    source: str
    chip_profile: str
    metric_std: str
    kind: str  # "training" or "inference"
    measured: float
    predicted: float
    step_time_s: float | None = None  # training rows: the estimated step (calibration rescales it)
    fits: bool | None = None  # training rows: whether the memory model says the measured layout fits

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.measured) / self.measured

    def to_dict(self) -> dict:
        return {"row_id": self.row_id, "source": self.source, "chip_profile": self.chip_profile,
                "metric_std": self.metric_std, "measured": self.measured, "predicted": self.predicted,
                "error_pct": self.error_pct, "fits": self.fits}


@attrs.frozen
class Skipped:
    row_id: str
    reason: str

    def to_dict(self) -> dict:
        return {"row_id": self.row_id, "reason": self.reason}


def _stats(errors: list[float]) -> dict:
    absolute = [abs(e) for e in errors]
    return {"rows": len(errors), "median_abs_error_pct": statistics.median(absolute) if errors else None,
            "mean_abs_error_pct": statistics.fmean(absolute) if errors else None,
            "bias_pct": statistics.median(errors) if errors else None}


@attrs.frozen
class Validation:
    """Every row compared (``rows``) and every row left out with its reason (``skipped``)."""

    rows: tuple[RowResult, ...]
    skipped: tuple[Skipped, ...]
    files: tuple[str, ...]

    def summary(self, key=lambda r: r.kind) -> dict[str, dict]:
        groups: dict[str, list[float]] = {}
        for r in self.rows:
            groups.setdefault(key(r), []).append(r.error_pct)
        return {k: _stats(v) for k, v in sorted(groups.items())}

    def to_dict(self) -> dict:
        summary = {kind: _stats([r.error_pct for r in self.rows if r.kind == kind])
                   for kind in ("training", "inference")}
        summary["training"]["predicted_not_to_fit"] = sum(1 for r in self.rows if r.fits is False)
        return {"rows": [r.to_dict() for r in self.rows], "skipped": [s.to_dict() for s in self.skipped],
                "summary": summary, "by_chip": self.summary(lambda r: r.chip_profile),
                "by_source": self.summary(lambda r: source_name(r.source)), "files": list(self.files)}


def default_files() -> list[Path]:
    folder = profiles_dir() / "measurements"
    return [folder / "training.csv", folder / "inference.csv"]


def read_rows(path: str | Path) -> tuple[str, list[dict]]:
    """(kind, rows) of one measurement file; the project error if it is unreadable or not in the schema."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            rows = list(reader)
    except FileNotFoundError:
        raise RooflineError(f"data={str(p)!r} does not exist; give a CSV file in the measurement schema") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RooflineError(f"data={str(p)!r} cannot be read as CSV ({exc}); check the file") from None
    if "seq_len" in columns and "global_batch" in columns:
        kind, extra = "training", TRAINING_COLUMNS
    elif "input_len" in columns and "output_len" in columns:
        kind, extra = "inference", INFERENCE_COLUMNS
    else:
        raise RooflineError(f"data={str(p)!r} is neither a training file (seq_len, global_batch columns) nor an "
                            f"inference file (input_len, output_len columns); see SCHEMA.md")
    missing = [c for c in (*COMMON_COLUMNS, *extra) if c not in columns]
    if missing:
        raise RooflineError(f"data={str(p)!r} lacks the column(s) {', '.join(missing)} of the {kind} schema; "
                            f"add them (empty cells are allowed)")
    return kind, rows


# ---- reading cells ---------------------------------------------------------------------------------

def _cell(row: dict, col: str) -> str:
    return (row.get(col) or "").strip()


def _int(row: dict, col: str, default: int | None = None) -> int:
    v = _cell(row, col)
    if not v:
        if default is None:
            raise RowError(f"{col} is empty")
        return default
    try:
        f = float(v)
    except ValueError:
        raise RowError(f"{col}={v!r} is not a number") from None
    if not f.is_integer() or f < 0:
        raise RowError(f"{col}={v!r} is not a whole number")
    return int(f)


def _pos(row: dict, col: str, default: int | None = None) -> int:
    n = _int(row, col, default)
    if n <= 0:
        raise RowError(f"{col}={n} must be positive")
    return n


def _value(row: dict) -> float:
    v = _cell(row, "value_std")
    try:
        f = float(v)
    except ValueError:
        raise RowError(f"value_std={v!r} is not a number") from None
    if not math.isfinite(f) or f <= 0:
        raise RowError(f"value_std={v!r} must be a positive number")
    return f


def source_name(source: str) -> str:
    """A short name for a row's source citation."""
    s = source.lower()
    if "narayanan" in s:
        return "Megatron-LM (Narayanan 2021)"
    if "mosaic" in s or "llm-foundry" in s:
        return "MosaicML llm-foundry"
    if "fsdp" in s:
        return "PyTorch FSDP (IBM/Meta 2024)"
    if "tensorrt-llm" in s and "perf-overview" in s:
        return "TensorRT-LLM perf-overview"
    if "azure" in s:
        return "Azure TensorRT-LLM"
    if "sglang" in s or "lmsys" in s:
        return "SGLang"
    return source.split(",")[0][:40] or "unknown"


def _megatron_2021(row: dict) -> bool:
    return "narayanan" in _cell(row, "source").lower()


def model_for_row(row: dict) -> Model:
    """The row's architecture as a ``Model`` (see the module docstring for the conventions)."""
    arch = _cell(row, "arch")
    if arch not in ("gpt", "llama", "moe", "mla_moe"):
        raise RowError(f"arch={arch!r} is not one of gpt, llama, moe, mla_moe")
    layers, h, heads = _pos(row, "layers"), _pos(row, "hidden"), _pos(row, "heads")
    kv = _pos(row, "kv_heads", heads)
    hd = _pos(row, "head_dim", h // heads if h % heads == 0 else None)
    ffn, vocab = _pos(row, "ffn_hidden"), _pos(row, "vocab")
    if heads % kv:
        raise RowError(f"kv_heads={kv} does not divide heads={heads}")
    ref = _cell(row, "model_ref")
    if ref and MODELS.find(ref):
        m = load_model(ref)
        width = m.moe_intermediate_size if m.is_moe else m.intermediate_size
        if (m.num_layers, m.hidden_size, m.num_heads, m.num_kv_heads, width, m.vocab_size) == \
                (layers, h, heads, kv, ffn, vocab):
            return m
    if arch in ("moe", "mla_moe"):
        raise RowError(f"model_ref={ref!r}: an MoE row needs a model profile with these dimensions (the "
                       f"schema's columns do not give the dense layers, shared-expert width or MLA ranks)")
    common = dict(name=ref or "row", num_layers=layers, hidden_size=h, num_heads=heads, num_kv_heads=kv,
                  head_dim=hd, intermediate_size=ffn, vocab_size=vocab)
    if arch == "llama":
        return Model(**common, gated_mlp=True, norm="rms", tie_word_embeddings=False)
    if _megatron_2021(row):
        seq = _pos(row, "seq_len", 2048) if "seq_len" in row else 2048
        return Model(**common, gated_mlp=False, norm="layer", qkv_bias=True, o_bias=True, mlp_bias=True,
                     tie_word_embeddings=True, learned_pos_embeddings=seq, family="gpt2")
    return Model(**common, gated_mlp=False, norm="layer", tie_word_embeddings=True, family="mpt")


def _chip(row: dict, cache: dict, overrides: dict | None) -> Chip:
    name = _cell(row, "chip_profile")
    if not name:
        raise RowError("chip_profile is empty (the part is not one of the profiles)")
    if name not in cache:
        try:
            chip = load_chip(name)
        except RooflineError as exc:
            raise RowError(f"chip_profile={name!r}: {exc}") from None
        fam = (overrides or {}).get(chip.family)
        if fam:
            chip = attrs.evolve(chip, efficiency_overrides=tuple({**dict(chip.efficiency_overrides), **fam}.items()))
        cache[name] = chip
    return cache[name]


# ---- training rows -----------------------------------------------------------------------------------

def _training_workload(row: dict):
    from roofline.training import RECOMPUTE_MODES, TRAIN_DTYPES, TrainingWorkload

    precision = _cell(row, "precision")
    if precision not in TRAIN_DTYPES:
        raise RowError(f"precision={precision!r}: training matmuls are modelled in {', '.join(TRAIN_DTYPES)}")
    recompute = _cell(row, "recompute") or "none"
    if recompute not in RECOMPUTE_MODES:
        raise RowError(f"recompute={recompute!r} is not one of {', '.join(RECOMPUTE_MODES)}")
    fsdp = "fsdp" in _cell(row, "source").lower()
    zero = _int(row, "zero", 3 if fsdp else 0)
    if zero > 3:
        raise RowError(f"zero={zero} is not a ZeRO stage 0-3")
    sp = _cell(row, "sequence_parallel")
    megatron = _megatron_2021(row)
    return TrainingWorkload(
        num_chips=_pos(row, "num_chips"), tp=_pos(row, "tp", 1), pp=_pos(row, "pp", 1), dp=_pos(row, "dp"),
        cp=_pos(row, "cp", 1), micro_batch=_pos(row, "micro_batch"), global_batch=_pos(row, "global_batch"),
        seq_len=_pos(row, "seq_len"), recompute=recompute, zero=zero, dtype=precision,
        virtual_pp=_pos(row, "virtual_pp", 1),
        sequence_parallel=False if megatron else (None if not sp else sp == "yes"),
        flash_attention=not megatron, dropout=megatron, ep=_pos(row, "ep", 1))


def predict_training(row: dict, chip: Chip, model: Model):
    """(predicted metric, the TrainingEstimate). A measured run that the memory model says does not fit
    is still timed (it ran); ``fits`` is reported with the row."""
    from roofline.training import estimate_training

    est = estimate_training(chip, model, _training_workload(row))
    metric = _cell(row, "metric_std")
    return _training_metric(row, chip, model, est, metric), est


def _training_metric(row, chip, model, est, metric) -> float:
    wl = est.workload
    n, s, B, step = wl.num_chips, wl.seq_len, wl.batch(), est.step_time_s
    if metric == "tokens_per_s_per_chip":
        return est.tokens_per_s_per_chip
    if metric == "step_time_s":
        return step
    peak = chip.peak(wl.dtype)
    src = source_name(_cell(row, "source"))
    if metric in ("hfu", "hardware_tflops_per_chip"):
        if src.startswith("Megatron"):
            l, h, V = model.num_layers, model.hidden_size, model.vocab_size
            flops = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h)) / n
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


# ---- inference rows -----------------------------------------------------------------------------------

def _engine(row: dict) -> str:
    fw = _cell(row, "framework").lower()
    if "tensorrt" in fw or "trt" in fw:
        return "trtllm"
    if "sglang" in fw:
        return "sglang"
    if "vllm" in fw:
        return "vllm"
    return "generic"


def _inference_dtypes(row: dict, kv_when_blank: str) -> tuple[str, str | None]:
    wd = _cell(row, "weight_dtype") or _cell(row, "precision")
    if wd not in WEIGHT_DTYPES:
        raise RowError(f"weight_dtype={wd!r} is not one of {', '.join(WEIGHT_DTYPES)}")
    kv = _cell(row, "kv_dtype")
    if not kv:
        kv = ("fp8" if wd == "fp8" else None) if kv_when_blank == "weights" else kv_when_blank
    if kv is not None and kv not in KV_DTYPES:
        raise RowError(f"kv_dtype={kv!r} is not one of {', '.join(KV_DTYPES)}")
    return wd, kv


def predict_inference(row: dict, chip: Chip, model: Model, kv_when_blank: str = "weights") -> float:
    from roofline.inference import Packed
    from roofline.workload import Workload, check_layout

    metric = _cell(row, "metric_std")
    if metric not in INFERENCE_METRICS:
        raise RowError(f"metric_std={metric!r} is not an inference metric ({', '.join(INFERENCE_METRICS)})")
    if _cell(row, "speculative"):
        raise RowError(f"speculative={_cell(row, 'speculative')!r}: the accepted tokens per step are not "
                       f"stated, so speculative decoding cannot be expressed")
    tp, pp, n = _pos(row, "tp", 1), _pos(row, "pp", 1), _pos(row, "num_chips")
    ep = _pos(row, "ep", 1)
    replica_chips = max(tp, ep) * pp
    if n % replica_chips and replica_chips % n:
        raise RowError(f"num_chips={n} is neither a multiple nor a divisor of the replica's max(tp, ep) x pp = "
                       f"{replica_chips}")
    # whole-deployment rates: replicas of max(tp, ep) x pp chips; a per-node share of a larger replica
    # (num_chips < replica chips) is that fraction of the replica
    replicas = n / replica_chips
    wd, kv = _inference_dtypes(row, kv_when_blank)
    i_len = _pos(row, "input_len")
    o_raw = _cell(row, "output_len")
    o_len = _int(row, "output_len") if o_raw else None
    batch_cell = _cell(row, "batch")
    try:
        check_layout(chip, model, Workload(batch=1, input_len=i_len, output_len=max(o_len or 1, 1), tp=tp, pp=pp,
                                           weight_dtype=wd, kv_dtype=kv, ep=ep))
    except RooflineError as exc:
        raise RowError(str(exc)) from None
    if batch_cell == "max":
        from roofline.serving import estimate_serving

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
    total = _pos(row, "batch")
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


# ---- the whole run -------------------------------------------------------------------------------------

def validate(paths: list[str | Path] | None = None, *, kv_when_blank: str = "weights",
             efficiency_overrides: dict[str, dict[str, float]] | None = None) -> Validation:
    """Run every usable row of ``paths`` (default: the shipped measurements) through the estimator.

    ``efficiency_overrides`` maps a chip family to efficiency values that replace the stored ones (used
    by ``benchmarks/calibrate.py``). Raises the project error for an unreadable or malformed file.
    """
    if kv_when_blank not in KV_WHEN_BLANK:
        raise RooflineError(f"kv_when_blank={kv_when_blank!r} is not one of {', '.join(KV_WHEN_BLANK)}")
    files = [Path(p) for p in (paths or default_files())]
    results, skipped, chips = [], [], {}
    for path in files:
        kind, rows = read_rows(path)
        for i, row in enumerate(rows, start=2):
            rid = _cell(row, "row_id") or f"{path.name}:{i}"
            usable = _cell(row, "usable")
            if usable != "yes":
                skipped.append(Skipped(rid, f"marked unusable by the data ({usable or 'blank'})"))
                continue
            try:
                measured = _value(row)
                metric = _cell(row, "metric_std")
                allowed = TRAINING_METRICS if kind == "training" else INFERENCE_METRICS
                if metric not in allowed:
                    raise RowError(f"metric_std={metric!r} is not a {kind} metric ({', '.join(allowed)})")
                chip = _chip(row, chips, efficiency_overrides)
                model = model_for_row(row)
                step = fits = None
                if kind == "training":
                    predicted, est = predict_training(row, chip, model)
                    step, fits = est.step_time_s, est.fits
                else:
                    predicted = predict_inference(row, chip, model, kv_when_blank)
            except RowError as exc:
                skipped.append(Skipped(rid, str(exc)))
                continue
            except RooflineError as exc:
                skipped.append(Skipped(rid, str(exc)))
                continue
            results.append(RowResult(rid, _cell(row, "source"), _cell(row, "chip_profile"), metric, kind,
                                     measured, float(predicted), step, fits))
    return Validation(tuple(results), tuple(skipped), tuple(str(f) for f in files))
