"""The measurement files: their columns, reading them, and a row's chip and model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import attrs

from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.files import profiles_dir
from roofline.loaders.models import MODELS, load_model
from roofline.model import Model

TRAINING_METRICS = ("tokens_per_s_per_chip", "mfu", "hfu", "model_tflops_per_chip", "hardware_tflops_per_chip",
                    "step_time_s")

INFERENCE_METRICS = ("output_tokens_per_s", "total_tokens_per_s", "input_tokens_per_s",
                     "output_tokens_per_s_per_chip", "tpot_s", "ttft_s")

COMMON_COLUMNS = ("row_id", "usable", "chip_profile", "model_ref", "arch", "layers", "hidden", "heads", "kv_heads",
                  "head_dim", "ffn_hidden", "vocab", "precision", "num_chips", "tp", "pp", "metric_std", "value_std",
                  "source")

TRAINING_COLUMNS = ("dp", "micro_batch", "global_batch", "seq_len", "recompute")

INFERENCE_COLUMNS = ("weight_dtype", "kv_dtype", "batch", "input_len", "output_len")
SERVING_METRICS = ("tpot_s", "ttft_s")
SERVING_COLUMNS = (*INFERENCE_COLUMNS, "attn_dp", "ep", "engine", "serving_mode", "moe_tp", "moe_ep")

#: How a blank ``kv_dtype`` is read: "engine", as the row's engine resolves ``kv_cache_dtype = auto`` for the
#: checkpoint (the product's rule, ``Engine.kv_auto``); "weights", 8-bit with 8-bit weights; or a dtype.
KV_WHEN_BLANK = ("engine", "weights", *KV_DTYPES)


class RowError(Exception):
    """A row this estimator cannot express; the message is the reason shown as skipped."""


def default_files() -> list[Path]:
    folder = profiles_dir() / "measurements"
    return [folder / "training.csv", folder / "inference.csv", folder / "serving.csv"]


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
    if "serving_mode" in columns:
        kind, extra = "serving", SERVING_COLUMNS
    elif "seq_len" in columns and "global_batch" in columns:
        kind, extra = "training", TRAINING_COLUMNS
    elif "input_len" in columns and "output_len" in columns:
        kind, extra = "inference", INFERENCE_COLUMNS
    else:
        raise RooflineError(f"data={str(p)!r} is neither a training file (seq_len, global_batch columns), an "
                            f"inference file (input_len, output_len columns) nor a serving file (serving_mode "
                            f"column); see SCHEMA.md")
    missing = [c for c in (*COMMON_COLUMNS, *extra) if c not in columns]
    if missing:
        raise RooflineError(f"data={str(p)!r} lacks the column(s) {', '.join(missing)} of the {kind} schema; "
                            f"add them (empty cells are allowed)")
    return kind, rows


def cell(row: dict, col: str) -> str:
    return (row.get(col) or "").strip()


def whole_cell(row: dict, col: str, default: int | None = None) -> int:
    v = cell(row, col)
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


def positive_cell(row: dict, col: str, default: int | None = None) -> int:
    n = whole_cell(row, col, default)
    if n <= 0:
        raise RowError(f"{col}={n} must be positive")
    return n


def value_cell(row: dict) -> float:
    v = cell(row, "value_std")
    try:
        f = float(v)
    except ValueError:
        raise RowError(f"value_std={v!r} is not a number") from None
    if not math.isfinite(f) or f <= 0:
        raise RowError(f"value_std={v!r} must be a positive number")
    return f


def megatron_2021(row: dict) -> bool:
    return "narayanan" in cell(row, "source").lower()


def eager_pytorch(row: dict) -> bool:
    """The rows of IBM and Meta's FSDP post (PyTorch blog, 2024-03-13), which ran Meta's reference Llama code
    op by op: their follow-up ("Maximizing training throughput using torch.compile and FSDP", PyTorch blog
    2024) says they had started from that implementation and that adding torch.compile raised MFU by 10-23 %."""
    return "team pytorch at ibm" in cell(row, "source").lower()


def model_for_row(row: dict) -> Model:
    """The row's architecture as a ``Model`` (see the module docstring for the conventions)."""
    arch = cell(row, "arch")
    if arch not in ("gpt", "llama", "moe", "mla_moe"):
        raise RowError(f"arch={arch!r} is not one of gpt, llama, moe, mla_moe")
    layers, h, heads = positive_cell(row, "layers"), positive_cell(row, "hidden"), positive_cell(row, "heads")
    kv = positive_cell(row, "kv_heads", heads)
    hd = positive_cell(row, "head_dim", h // heads if h % heads == 0 else None)
    ffn, vocab = positive_cell(row, "ffn_hidden"), positive_cell(row, "vocab")
    if heads % kv:
        raise RowError(f"kv_heads={kv} does not divide heads={heads}")
    ref = cell(row, "model_ref")
    if ref and MODELS.find(ref):
        m = load_model(ref)
        width = m.moe_intermediate_size if m.is_moe else m.intermediate_size
        if (m.num_layers, m.hidden_size, m.num_heads, m.num_kv_heads, width, m.vocab_size) == \
                (layers, h, heads, kv, ffn, vocab):
            return m
    if arch in ("moe", "mla_moe"):
        raise RowError(f"model_ref={ref!r}: no model profile with these dimensions; an MoE row needs one (the "
                       f"schema's columns do not give the dense layers, shared-expert width, MLA ranks or attention "
                       f"pattern), and architectures not expressed yet have none")
    common = dict(name=ref or "row", num_layers=layers, hidden_size=h, num_heads=heads, num_kv_heads=kv,
                  head_dim=hd, intermediate_size=ffn, vocab_size=vocab)
    if arch == "llama":
        return Model(**common, gated_mlp=True, norm="rms", tie_word_embeddings=False)
    if megatron_2021(row):
        seq = positive_cell(row, "seq_len", 2048) if "seq_len" in row else 2048
        return Model(**common, gated_mlp=False, norm="layer", qkv_bias=True, o_bias=True, mlp_bias=True,
                     tie_word_embeddings=True, learned_pos_embeddings=seq, family="gpt2")
    return Model(**common, gated_mlp=False, norm="layer", tie_word_embeddings=True, family="mpt")


def chip_for_row(row: dict, cache: dict, overrides: dict | None) -> Chip:
    name = cell(row, "chip_profile")
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
