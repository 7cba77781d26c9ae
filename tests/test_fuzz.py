"""Fuzzing the loaders and the workloads: anything either loads into a consistent value or is refused
with ``RooflineError``; no other exception type ever escapes.

Inputs are built by mutating known-good ones (a chip profile, model profiles, Hugging Face
``config.json`` dicts of every supported family, workloads, measurement CSV rows): keys are dropped,
values replaced by odd ones (``None``, booleans, strings, zero, negatives, NaN, infinities, huge and
tiny numbers, floats for integers, lists and tables), unknown keys added, files truncated. What is
accepted must be usable: positive parameter counts, and estimates that are finite and positive (or a
``RooflineError`` saying why there is none).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import tempfile
import tomllib
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline.api import estimate
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.loaders.chips import chip_from_dict, load_chip
from roofline.loaders.files import profiles_dir
from roofline.loaders.hf_config import fields_from_hf_config
from roofline.loaders.models import load_model, model_from_dict
from roofline.model import Model
from roofline.serving.static import estimate_inference
from roofline.training.planner import training_estimate
from roofline.validate.run import validate
from roofline.workload import TrainingWorkload, Workload

#: Examples per test are multiplied by ROOFLINE_FUZZ_SCALE (default 1, a few seconds in all); run
#: ``ROOFLINE_FUZZ_SCALE=50 pytest tests/test_fuzz.py`` for a long search.
SCALE = max(1, int(os.environ.get("ROOFLINE_FUZZ_SCALE", "1")))
HF = Path(__file__).resolve().parent / "data" / "hf"
SCRATCH = Path(tempfile.mkdtemp(prefix="roofline-fuzz-"))

# ---- odd values ------------------------------------------------------------------------------------

ODD_SCALARS = [None, True, False, "", "8", "4096", "1e12", "80 GB", "nan", 0, -1, -4096, 0.0, -0.0, 0.5, 1.5,
               4096.0, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, float("nan"), float("inf"), float("-inf"),
               2 ** 53, 2 ** 63, 10 ** 30, 10 ** 400, -10 ** 400, [], [1], {}, {"value": 8}, {"value": "x"},
               {"source": "s"}, {"value": float("nan"), "source": "s"}]

odd = st.one_of(st.sampled_from(ODD_SCALARS).map(copy.deepcopy), st.integers(), st.floats(), st.text(max_size=6),
                st.booleans())


def _paths(d: dict, prefix=()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out.append(prefix + (k,))
        if isinstance(v, dict):
            out += _paths(v, prefix + (k,))
    return out


def _set(d: dict, path: tuple, value) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


def _delete(d: dict, path: tuple) -> None:
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]


def _get(d: dict, path: tuple):
    for k in path:
        d = d[k]
    return d


@st.composite
def mutated(draw, base: dict, extra_keys=("notes", "typo_field", "num_expert", "hidden", "bf17")):
    """``base`` (deep-copied) with 0-4 mutations: drop a key, replace a value by an odd one, scale a
    number (or make an int a float), or add an unknown key."""
    d = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        paths = _paths(d)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        try:
            current = _get(d, path)
        except (KeyError, TypeError):
            continue
        action = draw(st.sampled_from(["drop", "odd", "odd", "scale", "float", "add"]))
        if action == "drop":
            _delete(d, path)
        elif action == "odd":
            _set(d, path, draw(odd))
        elif action == "scale" and isinstance(current, (int, float)) and not isinstance(current, bool):
            factor = draw(st.sampled_from([0, -1, 0.5, 2, 3, 1000, 1e6, 1e-6]))
            try:
                new = current * factor
                _set(d, path, int(new) if isinstance(current, int) and float(new).is_integer() else new)
            except OverflowError:
                _set(d, path, current * int(factor))
        elif action == "float" and isinstance(current, int) and not isinstance(current, bool):
            _set(d, path, float(current) if abs(current) < 1e300 else math.inf)
        elif action == "add":
            parent = _get(d, path[:-1]) if len(path) > 1 else d
            if isinstance(parent, dict):
                parent[draw(st.sampled_from(extra_keys))] = draw(odd)
    return d


def _finite_positive(*values) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


# ---- small reference values the fuzzed one is combined with -----------------------------------------

TINY = Model(name="tiny", num_layers=4, hidden_size=512, num_heads=8, num_kv_heads=2, head_dim=64,
             intermediate_size=1536, vocab_size=32000)
TINY_MOE = Model(name="tiny-moe", num_layers=4, hidden_size=512, num_heads=8, num_kv_heads=8, head_dim=64,
                 intermediate_size=1536, vocab_size=32000, num_experts=8, experts_per_token=2,
                 moe_intermediate_size=512, shared_experts=1)
H100 = load_chip("H100")
SMALL_REQUEST = Workload(batch=2, input_len=256, output_len=32)


def check_serving(chip: Chip, model: Model, wl: Workload = SMALL_REQUEST) -> None:
    """An accepted chip/model/workload estimates finite, positive times with expected >= ideal, or says why not."""
    try:
        e = estimate_inference(chip, model, wl)
    except RooflineError:
        return
    assert _finite_positive(e.ttft_s, e.tpot_s, e.ideal_ttft_s, e.ideal_tpot_s, e.max_batch + 1)
    assert e.ttft_s >= e.ideal_ttft_s * (1 - 1e-9) and e.tpot_s >= e.ideal_tpot_s * (1 - 1e-9)
    assert math.isfinite(e.memory_per_chip_bytes) and e.memory_per_chip_bytes > 0


def check_training(chip: Chip, model: Model, wl: TrainingWorkload | None = None) -> None:
    """One complete training layout (no planner): finite, positive step time and memory, or a RooflineError."""
    wl = wl or TrainingWorkload(num_chips=1, tp=1, pp=1, dp=1, micro_batch=1, global_batch=2, seq_len=256,
                                recompute="none", zero=0, virtual_pp=1, ep=1, dtype=chip.half_dtype)
    try:
        t = training_estimate(chip, model, wl)
    except RooflineError:
        return
    assert _finite_positive(t.step_time_s, t.memory_per_chip_bytes, t.tokens_per_s, t.model_flops_per_chip)
    assert 0 < t.mfu and math.isfinite(t.hfu)


# ---- chips ---------------------------------------------------------------------------------------

CHIP_BASE = tomllib.loads((profiles_dir() / "chips" / "H100-SXM.toml").read_text())
CHIP_MINIMAL = {"name": "mini", "peak_flops_per_s": {"bf16": 400e12}, "hbm": {"bytes": 64e9, "bytes_per_s": 2e12},
                "scale_up": {"bytes_per_s": 100e9, "domain_size": 4}, "scale_out": {"bytes_per_s": 25e9},
                "efficiency": {"gemm_fraction": 0.7}}


def check_chip(chip: Chip) -> None:
    assert isinstance(chip, Chip) and chip.name
    assert chip.dtypes and any(d in chip.dtypes for d in ("bf16", "fp16"))
    assert _finite_positive(*(v for _, v in chip.peak_flops_per_s), chip.hbm_bytes, chip.hbm_bytes_per_s,
                            chip.scale_up_bytes_per_s, chip.scale_out_bytes_per_s)
    assert isinstance(chip.scale_up_domain, int) and chip.scale_up_domain >= 1
    assert chip.tdp_w is None or _finite_positive(chip.tdp_w)


@settings(max_examples=80 * SCALE)
@given(st.one_of(mutated(CHIP_BASE, extra_keys=("bf17", "notes", "tdp", "bytes_per_sec", "hbm")),
                 mutated(CHIP_MINIMAL, extra_keys=("gemm_fracton", "fp8", "kernel_overhead_s", "step_overhead_s"))))
def test_chip_dicts_load_or_refuse(d):
    try:
        chip = chip_from_dict(d, "fuzz")
    except RooflineError:
        return
    check_chip(chip)
    check_serving(chip, TINY)
    check_training(chip, TINY)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return '"None"'


def to_toml(d: dict) -> str:
    """A small TOML writer: scalars first, then one [table] per dict (inline tables inside)."""
    lines = [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(str(k))}]")
            lines += [f"{json.dumps(str(kk))} = {_toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def _write(name: str, data: str | bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@settings(max_examples=60 * SCALE)
@given(mutated(CHIP_MINIMAL), st.floats(0.0, 1.0), st.booleans())
def test_chip_toml_files_load_or_refuse(d, cut, truncate):
    """Written as TOML (possibly truncated mid-file, or with a stray byte): loaded by path or refused."""
    text = to_toml(d)
    data = text[: int(len(text) * cut)] if truncate else text
    path = _write("fuzz-chip.toml", data.encode("utf-8") + (b"\xff" if cut > 0.95 else b""))
    try:
        chip = load_chip(str(path))
    except RooflineError:
        return
    check_chip(chip)
    check_serving(chip, TINY)


# ---- models --------------------------------------------------------------------------------------

MODEL_BASES = [tomllib.loads((profiles_dir() / "models" / f"{n}.toml").read_text())
               for n in ("Llama-3.1-8B", "Mixtral-8x7B", "DeepSeek-V3", "Qwen3-30B-A3B", "GPT-3-175B")]
MODEL_EXTRA = ("notes", "num_expert", "sliding_windw", "hidden", "kv_heads")


def check_model(m: Model) -> None:
    assert isinstance(m, Model)
    total, active = m.param_count(), m.active_param_count()
    assert isinstance(total, int) and 0 < active <= total
    assert m.kv_elements_per_token() > 0 and m.num_heads % m.num_kv_heads == 0
    assert m.moe_layers + m.dense_layers == m.num_layers


@settings(max_examples=120 * SCALE)
@given(st.one_of(*(mutated(b, extra_keys=MODEL_EXTRA) for b in MODEL_BASES)))
def test_model_dicts_load_or_refuse(d):
    try:
        m = model_from_dict(d, "fuzz")
    except RooflineError:
        return
    check_model(m)
    check_serving(H100, m, Workload(batch=1, input_len=64, output_len=8))


@settings(max_examples=40 * SCALE)
@given(st.sampled_from(MODEL_BASES).flatmap(lambda b: mutated(b, extra_keys=MODEL_EXTRA)), st.floats(0.0, 1.0))
def test_model_toml_files_load_or_refuse(d, cut):
    text = to_toml(d)
    path = _write("fuzz-model.toml", text[: int(len(text) * cut)] if cut < 0.5 else text)
    try:
        m = load_model(str(path))
    except RooflineError:
        return
    check_model(m)


# ---- Hugging Face config.json ---------------------------------------------------------------------

HF_BASES = [json.loads((d / "config.json").read_text()) for d in sorted(HF.iterdir())] + [
    {"model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768,
     "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
     "num_local_experts": 8, "sliding_window": None, "tie_word_embeddings": False, "vocab_size": 32000},
    {"model_type": "qwen3_moe", "attention_bias": False, "decoder_sparse_step": 1, "head_dim": 128,
     "hidden_size": 2048, "intermediate_size": 6144, "max_position_embeddings": 40960, "mlp_only_layers": [],
     "moe_intermediate_size": 768, "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
     "num_hidden_layers": 48, "num_key_value_heads": 4, "use_sliding_window": False, "vocab_size": 151936},
    {"model_type": "qwen2_moe", "hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 8192,
     "moe_intermediate_size": 1408, "num_attention_heads": 16, "num_experts": 60, "num_experts_per_tok": 4,
     "num_hidden_layers": 24, "num_key_value_heads": 16, "shared_expert_intermediate_size": 5632,
     "decoder_sparse_step": 1, "mlp_only_layers": [], "use_sliding_window": False, "vocab_size": 151936},
    {"model_type": "deepseek_v3", "attention_bias": False, "first_k_dense_replace": 3, "hidden_size": 7168,
     "intermediate_size": 18432, "kv_lora_rank": 512, "max_position_embeddings": 163840,
     "moe_intermediate_size": 2048, "moe_layer_freq": 1, "n_routed_experts": 256, "n_shared_experts": 1,
     "num_attention_heads": 128, "num_experts_per_tok": 8, "num_hidden_layers": 61, "num_key_value_heads": 128,
     "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "topk_method": "noaux_tc",
     "v_head_dim": 128, "vocab_size": 129280},
    {"model_type": "deepseek_v2", "attention_bias": False, "first_k_dense_replace": 1, "hidden_size": 2048,
     "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
     "moe_intermediate_size": 1408, "n_routed_experts": 64, "n_shared_experts": 2, "num_attention_heads": 16,
     "num_experts_per_tok": 6, "num_hidden_layers": 27, "q_lora_rank": None, "qk_nope_head_dim": 128,
     "qk_rope_head_dim": 64, "topk_method": "greedy", "v_head_dim": 128, "vocab_size": 102400},
]
HF_EXTRA = ("head_dim", "num_key_value_heads", "sliding_window", "use_sliding_window", "attention_bias",
            "mlp_bias", "q_lora_rank", "n_shared_experts", "moe_layer_freq", "mlp_only_layers", "model_type",
            "word_embed_proj_dim", "n_inner", "topk_method", "tie_word_embeddings")


@settings(max_examples=150 * SCALE)
@given(st.one_of(*(mutated(b, extra_keys=HF_EXTRA) for b in HF_BASES)))
def test_hf_configs_load_or_refuse(cfg):
    try:
        m = model_from_dict(fields_from_hf_config(cfg, "fuzz"), where="config.json")
    except RooflineError:
        return
    check_model(m)
    assert m.family == cfg["model_type"]
    check_serving(H100, m, Workload(batch=1, input_len=64, output_len=8))


@settings(max_examples=40 * SCALE)
@given(st.sampled_from(HF_BASES).flatmap(lambda b: mutated(b, extra_keys=HF_EXTRA)), st.floats(0.0, 1.0),
       st.sampled_from(["whole", "truncated", "array", "latin-1"]))
def test_hf_config_files_load_or_refuse(cfg, cut, shape):
    text = json.dumps(cfg)  # NaN and Infinity are written as Python's json reads them
    data = {"whole": text, "truncated": text[: int(len(text) * cut)], "array": json.dumps([cfg]),
            "latin-1": text}[shape].encode("utf-8")
    if shape == "latin-1":
        data = data.replace(b"{", b"{\"n\xe9\": 1, ", 1)
    folder = SCRATCH / "fuzz-hf"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_bytes(data)
    try:
        m = load_model(str(folder))
    except RooflineError:
        return
    check_model(m)


# ---- workloads -----------------------------------------------------------------------------------

@st.composite
def some_odd(draw, valid: dict) -> dict:
    """Keyword arguments: a random subset of ``valid``'s fields drawn valid, then 0-2 fields made odd."""
    kw = {k: draw(v) for k, v in valid.items() if draw(st.booleans())}
    for k in draw(st.lists(st.sampled_from(sorted(valid)), max_size=2)):
        kw[k] = draw(odd)
    return kw


serving_workloads = some_odd({
    "batch": st.integers(1, 4096), "input_len": st.integers(1, 1 << 17), "output_len": st.integers(1, 4096),
    "tp": st.sampled_from([None, 1, 2, 4, 8, 3, 16]), "pp": st.sampled_from([1, 2, 4, 3]),
    "weight_dtype": st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4", "fp4", "BF16", " fp8 ", "fp32"]),
    "kv_dtype": st.sampled_from([None, "bf16", "fp8", "int8", "int4"]), "ep": st.sampled_from([1, 2, 4, 8, 16]),
    "draft_tokens": st.integers(0, 8), "accepted_tokens": st.one_of(st.none(), st.floats(0.5, 10)),
})


@settings(max_examples=100 * SCALE)
@given(serving_workloads, st.sampled_from([TINY, TINY_MOE]), st.sampled_from(["H100", "A100", "H20"]))
def test_serving_workloads_build_or_refuse(kw, model, chip):
    try:
        wl = Workload(**kw)
    except RooflineError:
        return
    assert wl.batch >= 1 and wl.input_len >= 1 and wl.output_len >= 1 and wl.accept >= 1
    check_serving(load_chip(chip), model, wl)


training_workloads = some_odd({
    "num_chips": st.sampled_from([1, 2, 4, 8, 16, 12, 7]), "tp": st.sampled_from([None, 1, 2, 4, 8]),
    "pp": st.sampled_from([None, 1, 2, 4, 3]), "dp": st.sampled_from([None, 1, 2, 4]),
    "cp": st.sampled_from([1, 2, 4]), "micro_batch": st.sampled_from([None, 1, 2, 4]),
    "global_batch": st.sampled_from([None, 1, 4, 16, 6]), "seq_len": st.sampled_from([128, 512, 1000, 4096]),
    "recompute": st.sampled_from([None, "none", "selective", "full", "FULL", "some"]),
    "zero": st.sampled_from([None, 0, 1, 2, 3, "2", 4]), "dtype": st.sampled_from(["bf16", "fp16", "fp8", "fp4"]),
    "virtual_pp": st.sampled_from([None, 1, 2]),
    "tokens": st.sampled_from([1e9, "15T", "2e12", "1.5B", "-1", "0", "5Q", 10 ** 400, 1e30]),
    "sequence_parallel": st.sampled_from([None, True, False]), "flash_attention": st.booleans(),
    "dropout": st.booleans(), "ep": st.sampled_from([None, 1, 2, 4]),
})


@settings(max_examples=60 * SCALE)
@given(training_workloads, st.sampled_from([TINY, TINY_MOE]), st.sampled_from(["H100", "A100"]))
def test_training_workloads_build_or_refuse(kw, model, chip):
    try:
        wl = TrainingWorkload(**kw)
    except RooflineError:
        return
    c = load_chip(chip)
    try:
        e = estimate(c, model, training=wl, mode="training", reference=None).training
    except RooflineError:
        return
    assert _finite_positive(e.step_time_s, e.tokens_per_s, e.memory_per_chip_bytes, e.time_to_train_s)
    assert e.workload.tp * e.workload.pp * e.workload.dp * e.workload.cp == e.workload.num_chips
    assert json.dumps(e.to_dict(), allow_nan=False)


# ---- measurement CSV -----------------------------------------------------------------------------

def _csv_rows(name: str) -> tuple[list[str], list[dict]]:
    with (profiles_dir() / "measurements" / name).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["usable"] == "yes"]
        return list(reader.fieldnames), rows[:: max(1, len(rows) // 6)][:6]


CSV_FILES = {name: _csv_rows(name) for name in ("training.csv", "inference.csv")}
CSV_ODD = st.sampled_from(["", "0", "-1", "nan", "inf", "1e400", "1.5", "abc", "max", "yes", "no", "fp4",
                           "99999999999999999999", "H2O", "moe", "full"])


@settings(max_examples=40 * SCALE)
@given(st.sampled_from(sorted(CSV_FILES)), st.data())
def test_measurement_csv_rows_validate_or_refuse(name, data):
    """A mutated measurement file: each row is compared or skipped with a reason; a malformed file is refused."""
    columns, rows = CSV_FILES[name]
    row = dict(data.draw(st.sampled_from(rows)))
    for col in data.draw(st.lists(st.sampled_from(columns[:31]), max_size=4)):
        row[col] = data.draw(CSV_ODD)
    drop = data.draw(st.sampled_from([None, None, None, "metric_std", "seq_len", "input_len", "tp"]))
    cols = [c for c in columns if c != drop]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    writer.writeheader()
    writer.writerow(row)
    text = buf.getvalue()
    if data.draw(st.booleans()):
        text = text[: data.draw(st.integers(0, len(text)))]
    path = _write(f"fuzz-{name}", text)
    try:
        result = validate([path])
    except RooflineError:
        return
    assert len(result.rows) + len(result.skipped) <= 1
    for r in result.rows:
        assert _finite_positive(r.predicted) and math.isfinite(r.error_pct)
    json.dumps(result.to_dict(), allow_nan=False)


# ---- the odd values one at a time, so every one is tried on every field --------------------------

@pytest.mark.parametrize("value", ODD_SCALARS, ids=repr)
def test_every_odd_value_in_every_model_field(value):
    base = MODEL_BASES[0]
    for key in base:
        d = dict(base, **{key: value})
        try:
            check_model(model_from_dict(d, "fuzz"))
        except RooflineError:
            pass


@pytest.mark.parametrize("value", ODD_SCALARS, ids=repr)
def test_every_odd_value_in_every_chip_figure(value):
    for path in _paths(CHIP_MINIMAL):
        d = copy.deepcopy(CHIP_MINIMAL)
        _set(d, path, value)
        try:
            chip = chip_from_dict(d, "fuzz")
        except RooflineError:
            continue
        check_chip(chip)
        check_serving(chip, TINY)
        check_training(chip, TINY)


@pytest.mark.parametrize("value", ODD_SCALARS, ids=repr)
def test_every_odd_value_in_every_hf_key(value):
    for base in HF_BASES:
        for key in base:
            cfg = dict(base, **{key: value})
            try:
                check_model(model_from_dict(fields_from_hf_config(cfg, "fuzz"), "config.json"))
            except RooflineError:
                pass


@pytest.mark.parametrize("value", ODD_SCALARS, ids=repr)
def test_every_odd_value_in_every_workload_field(value):
    for field in attrs.fields(Workload):
        try:
            wl = Workload(**{field.name: value})
        except RooflineError:
            continue
        check_serving(H100, TINY_MOE, wl)
    for field in attrs.fields(TrainingWorkload):
        try:
            TrainingWorkload(**{field.name: value})
        except RooflineError:
            continue


# ---- the library's front doors with arguments of the wrong kind ------------------------------------

def _front_doors(value):
    from roofline.api import plan
    from roofline.analysis.compare import compare
    from roofline.serving.inflight import estimate_serving

    # 8,192-token prompts keep the KV capacity of the tiny model near 4,000 sequences, so that a value the
    # serving doors read as concurrency "max" simulates thousands of users, not a quarter of a million
    wl = Workload(tp=1, batch=2, input_len=8192, output_len=16)
    small = TrainingWorkload(num_chips=1, micro_batch=1, recompute="none")
    complete = TrainingWorkload(num_chips=1, tp=1, pp=1, dp=1, micro_batch=1, global_batch=2, seq_len=256,
                                recompute="none", zero=0, virtual_pp=1)
    return {
        "serving.engine": lambda: estimate_serving(H100, TINY, wl, engine=value, concurrency=2),
        "serving.concurrency": lambda: estimate_serving(H100, TINY, wl, concurrency=value),
        "serving.request_rate": lambda: estimate_serving(H100, TINY, wl, request_rate=value),
        "serving.max_num_tokens": lambda: estimate_serving(H100, TINY, wl, concurrency=2, max_num_tokens=value),
        "estimate.chip": lambda: estimate(value, TINY, wl, reference=None),
        "estimate.model": lambda: estimate(H100, value, wl, reference=None),
        "estimate.workload": lambda: estimate(H100, TINY, value, reference=None),
        "estimate.serving": lambda: estimate(H100, TINY, wl, serving=value, reference=None),
        "estimate.serving.concurrency": lambda: estimate(H100, TINY, wl, serving={"concurrency": value},
                                                         reference=None),
        "estimate.training": lambda: estimate(H100, TINY, training=value, reference=None),
        "estimate.days": lambda: estimate(H100, TINY, training=complete, days=value, reference=None),
        "estimate.mode": lambda: estimate(H100, TINY, wl, mode=value, reference=None),
        "estimate.reference": lambda: estimate(H100, TINY, wl, reference=value),
        "plan.top": lambda: plan(H100, TINY, small, top=value, use_numba=False),
        "plan.days": lambda: plan(H100, TINY, small, days=value, use_numba=False),
        "compare.chips": lambda: compare(value, TINY, num_chips=8),
        "validate.kv_when_blank": lambda: validate(kv_when_blank=value),
    }


@pytest.mark.parametrize("value", ODD_SCALARS, ids=repr)
def test_front_doors_refuse_odd_arguments_with_the_project_error(value):
    for name, call in _front_doors(value).items():
        try:
            result = call()
        except RooflineError:
            continue
        assert result is not None, name
