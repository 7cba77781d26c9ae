"""A corpus of bad inputs, run through the command line exactly as a user would type them.

Every case must end with exit code 2 and one line on the terminal that starts ``roofline: error:`` and
names the field and the value (the expected substrings), with no traceback, and must leave no file
behind. The corpus is data: add a ``Case`` to extend it. ``{d}`` in an argument is the folder holding
the bad files of ``FILES`` (written once per session); ``{out}`` is an empty folder for outputs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.loaders.files import profiles_dir


class Case(NamedTuple):
    args: tuple[str, ...]
    expect: tuple[str, ...]  # substrings of the error line (field, value, fix)


def case(command: str, *expect: str) -> Case:
    """``command`` is split on spaces (``<blank>`` is an argument of one space); ``expect`` are substrings."""
    return Case(tuple(a.replace("<blank>", " ") for a in command.split(" ")), expect)


BIG = "1" + "0" * 400  # an integer no float can hold
H100_TOML = (profiles_dir() / "chips" / "H100-SXM.toml").read_text()
LLAMA_TOML = (profiles_dir() / "models" / "Llama-3.1-8B.toml").read_text()
LLAMA_JSON = (Path(__file__).parent / "data" / "hf" / "llama-Meta-Llama-3.1-8B" / "config.json").read_text()
MINI_CHIP = """name = "mini"
[peak_flops_per_s]
bf16 = 400e12
[hbm]
bytes = 64e9
bytes_per_s = 2e12
[scale_up]
bytes_per_s = 100e9
domain_size = 4
[scale_out]
bytes_per_s = 25e9
"""
TOY_MODEL = """name = "toy"
num_layers = 4
hidden_size = 256
num_heads = 4
num_kv_heads = 4
intermediate_size = 512
vocab_size = 1000
"""
TRAIN_HEADER = ("row_id,usable,chip_profile,model_ref,arch,layers,hidden,heads,kv_heads,head_dim,ffn_hidden,vocab,"
                "precision,num_chips,tp,pp,dp,micro_batch,global_batch,seq_len,recompute,metric_std,value_std,source")


def _llama(**changes) -> str:
    cfg = json.loads(LLAMA_JSON)
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return json.dumps(cfg)


#: The bad files, by name: text (str) or raw bytes. A name ending in "/" is a folder.
FILES: dict[str, str | bytes] = {
    # chips
    "chip-unclosed.toml": "name = 'x'\n[peak_flops_per_s\n",
    "chip-truncated.toml": H100_TOML[: H100_TOML.index("bytes_per_s = {") + 22],
    "chip-empty.toml": "",
    "chip-latin1.toml": b"name = \"caf\xe9\"\n",
    "chip-no-hbm.toml": MINI_CHIP.replace("[hbm]\nbytes = 64e9\nbytes_per_s = 2e12\n", ""),
    "chip-no-hbm-bytes.toml": MINI_CHIP.replace("bytes = 64e9\n", ""),
    "chip-negative.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = -1"),
    "chip-nan.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = nan"),
    "chip-inf.toml": MINI_CHIP.replace("bytes_per_s = 2e12", "bytes_per_s = inf"),
    "chip-zero.toml": MINI_CHIP.replace("bytes_per_s = 25e9", "bytes_per_s = 0"),
    "chip-string.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = '148 TFLOPS'"),
    "chip-bool.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = true"),
    "chip-fp7.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = 400e12\nfp7 = 1e15"),
    "chip-fp8-only.toml": MINI_CHIP.replace("bf16 = 400e12", "fp8 = 400e12"),
    "chip-units.toml": MINI_CHIP.replace("bytes = 64e9", "bytes = 80"),
    "chip-tflops.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = 989"),
    "chip-domain.toml": MINI_CHIP.replace("domain_size = 4", "domain_size = 2.5"),
    "chip-domain-huge.toml": MINI_CHIP.replace("domain_size = 4", "domain_size = 1152921504606846976"),
    "chip-no-value.toml": MINI_CHIP.replace("bf16 = 400e12", "bf16 = { source = 'datasheet' }"),
    "chip-eff-typo.toml": MINI_CHIP + "[efficiency]\ngemm_fracton = 0.7\n",
    "chip-eff-range.toml": MINI_CHIP + "[efficiency]\ngemm_fraction = 1.5\n",
    "chip-eff-denormal.toml": MINI_CHIP + "[efficiency]\ngemm_fraction = 1e-313\n",
    "chip-power.toml": "power = 'x'\n" + MINI_CHIP,
    "chip-price-date.toml": MINI_CHIP + "[price]\nusd_per_hour = { value = 2.0, source = 'quote' }\n",
    "chip-price-source.toml": MINI_CHIP + "[price]\nusd_per_hour = { value = 2.0, date = '2026-01' }\n",
    "chip-aliases.toml": "aliases = 'H9'\n" + MINI_CHIP,
    "chip-folder.toml/": "",
    # models (TOML)
    "model-no-layers.toml": TOY_MODEL.replace("num_layers = 4\n", ""),
    "model-kv.toml": TOY_MODEL.replace("num_kv_heads = 4", "num_kv_heads = 3"),
    "model-norm.toml": TOY_MODEL + "norm = 'batch'\n",
    "model-bool.toml": TOY_MODEL + "gated_mlp = 'yes'\n",
    "model-topk.toml": TOY_MODEL + "num_experts = 4\nexperts_per_token = 5\nmoe_intermediate_size = 128\n",
    "model-typo.toml": TOY_MODEL + "num_expert = 8\n",
    "model-deep.toml": TOY_MODEL.replace("num_layers = 4", "num_layers = 1e9"),
    "model-half.toml": TOY_MODEL.replace("hidden_size = 256", "hidden_size = 256.5"),
    "model-zero.toml": TOY_MODEL.replace("vocab_size = 1000", "vocab_size = 0"),
    "model-huge.toml": TOY_MODEL.replace("intermediate_size = 512", "intermediate_size = 1152921504606846976"),
    "model-mla.toml": TOY_MODEL + "kv_lora_rank = 32\nqk_nope_head_dim = 16\nqk_rope_head_dim = 8\nv_head_dim = 16\n"
                                  "head_dim = 64\n",
    "model-truncated.toml": LLAMA_TOML[: LLAMA_TOML.index("hidden_size = ") + 15].replace("4", "") + "\nx = [",
    "model-empty.toml": "",
    # Hugging Face config.json
    "hf-truncated/config.json": LLAMA_JSON[: len(LLAMA_JSON) // 2],
    "hf-empty/config.json": "",
    "hf-array/config.json": "[" + LLAMA_JSON + "]",
    "hf-bert/config.json": _llama(model_type="bert"),
    "hf-no-type/config.json": _llama(model_type=None),
    "hf-no-hidden/config.json": _llama(hidden_size=None),
    "hf-string/config.json": _llama(hidden_size="4096"),
    "hf-negative/config.json": _llama(num_hidden_layers=-1),
    "hf-zero-heads/config.json": _llama(num_attention_heads=0),
    "hf-half/config.json": _llama(intermediate_size=11008.5),
    "hf-nan/config.json": _llama(rms_norm_eps=1e-5).replace('"hidden_size": 4096', '"hidden_size": NaN'),
    "hf-inf/config.json": _llama().replace('"vocab_size": 128256', '"vocab_size": 1e400'),
    "hf-huge/config.json": _llama().replace('"vocab_size": 128256', f'"vocab_size": {BIG}'),
    "hf-kv/config.json": _llama(num_key_value_heads=5),
    "hf-flag/config.json": _llama(tie_word_embeddings="no"),
    "hf-topk/config.json": json.dumps({
        "model_type": "mixtral", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768,
        "num_attention_heads": 32, "num_experts_per_tok": 9, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "num_local_experts": 8, "vocab_size": 32000}),
    "hf-latin1/config.json": b'{"model_type": "llama", "name": "caf\xe9"}',
    "hf-folder/config.json/": "",
    "hf-none/": "",
    # measurement CSV
    "csv-empty.csv": "",
    "csv-columns.csv": "a,b,c\n1,2,3\n",
    "csv-missing.csv": "row_id,usable,seq_len,global_batch\nr1,yes,2048,512\n",
    "csv-latin1.csv": TRAIN_HEADER.encode() + b"\nr\xe9,yes\n",
    "csv-folder.csv/": "",
    # outputs
    "out/": "",
}

CASES: list[Case] = [
    # ---- names: unknown and misspelled, with suggestions ----
    case("estimate --chip H2O --model 70B", "chip", "'H2O'", "did you mean", "H20"),
    case("estimate --chip H100 --model lama-70b", "model", "'lama-70b'", "did you mean"),
    case("estimate --chip h100x --model 8B", "chip", "'h100x'", "H100"),
    case("estimate --chip Z9000 --model 8B", "chip", "'Z9000'", "roofline chips"),
    case("estimate --chip <blank> --model 8B", "chip=''", "empty"),
    case("estimate --chip H100 --model <blank>", "model=''", "empty"),
    case("estimate --chip H100 --model 8B --reference H2O", "--reference", "'H2O'", "H20"),
    case("estimate --chip H100 --model 8B --bach 4", "--bach", "--batch"),
    case("estimate --chip H100 --model 8B --mode inferance", "--mode", "'inferance'"),
    case("estimate --chip H100 --model 8B --format yaml", "--format", "'yaml'"),
    case("estimate --chip H100 --model 8B --engine vlm --concurrency 4", "--engine", "'vlm'"),
    case("estimate --chip H100 --model 8B --weight-dtype fp7", "--weight-dtype", "'fp7'"),
    case("estimate --chip H100 --model 8B --kv-dtype int4", "--kv-dtype", "'int4'"),
    case("estimate --chip H100 --model 8B --mode training --dtype fp4", "--dtype", "'fp4'"),
    case("estimate --chip H100 --model 8B --mode training --recompute partial", "--recompute", "'partial'"),
    case("estimate --chip H100 --model 8B --mode training --zero 4", "--zero", "'4'"),
    case("estimate --chip H100", "--model"),
    case("estimate --model 8B", "--chip"),
    case("estimate --chip H100 --model 8B extra", "extra"),
    case("chipz", "chipz", "chips"),
    case("--versoin", "--versoin", "--version"),
    # ---- serving values: zero, negative, NaN, infinite, absurd ----
    case("estimate --chip H100 --model 8B --batch 0", "--batch", "0"),
    case("estimate --chip H100 --model 8B --batch -1", "--batch", "-1"),
    case("estimate --chip H100 --model 8B --batch nan", "--batch", "nan"),
    case("estimate --chip H100 --model 8B --batch 1e3", "--batch", "1e3"),
    case(f"estimate --chip H100 --model 8B --mode inference --batch {BIG}", "batch=", "401 digits", "exceeds"),
    case("estimate --chip H100 --model 8B --input-len 0", "--input-len", "0"),
    case("estimate --chip H100 --model 8B --mode inference --input-len 1152921504606846976", "input_len=",
         "exceeds"),
    case("estimate --chip H100 --model 8B --output-len abc", "--output-len", "'abc'"),
    case("estimate --chip H100 --model 8B --tp 0", "--tp", "0"),
    case("estimate --chip H100 --model 70B --tp 3", "tp=3", "64 attention heads", "try"),
    case("estimate --chip H100 --model 8B --pp 33", "pp=33", "32 layers"),
    case("estimate --chip H100 --model 8B --mode inference --ep 2", "ep=2", "no experts"),
    case("estimate --chip H100 --model Mixtral-8x7B --mode inference --ep 16", "ep=16", "8 experts"),
    case("estimate --chip H100 --model Mixtral-8x7B --mode inference --ep 3 --tp 2", "ep=3", "tp=2"),
    case("estimate --chip H100 --model 8B --draft-tokens -1", "--draft-tokens", "-1"),
    case("estimate --chip H100 --model 8B --mode inference --accepted-tokens nan", "accepted_tokens=nan"),
    case("estimate --chip H100 --model 8B --mode inference --accepted-tokens 0.5", "accepted_tokens=0.5"),
    case("estimate --chip H100 --model 8B --mode inference --accepted-tokens 3 --draft-tokens 1",
         "accepted_tokens=3", "draft_tokens"),
    case("estimate --chip H100 --model 8B --concurrency 0", "--concurrency", "0"),
    case("estimate --chip H100 --model 8B --concurrency abc", "--concurrency", "'abc'"),
    case(f"estimate --chip H100 --model 8B --mode inference --concurrency {BIG}", "concurrency=", "401 digits"),
    case("estimate --chip H100 --model 8B --concurrency 4 --request-rate 2", "--concurrency", "--request-rate"),
    case("estimate --chip H100 --model 8B --mode inference --request-rate nan", "request_rate=nan"),
    case("estimate --chip H100 --model 8B --mode inference --request-rate -1", "request_rate=-1"),
    case("estimate --chip H100 --model 8B --mode inference --request-rate inf", "request_rate=inf", "finite"),
    case("estimate --chip H100 --model 8B --mode inference --num-requests 0 --concurrency 2", "--num-requests", "0"),
    case("estimate --chip H100 --model 8B --mode inference --concurrency 2 --random-range-ratio 1",
         "--random-range-ratio", "1.0", "0<=x<1"),
    case("estimate --chip H100 --model 8B --mode inference --concurrency 2 --seed -1", "--seed", "-1"),
    case("estimate --chip H100 --model 8B --mode inference --concurrency 2 --max-tpot-ms 0", "--max-tpot-ms", "0.0"),
    case("estimate --chip H100 --model 8B --max-num-tokens 0 --concurrency 2", "--max-num-tokens", "0"),
    case("estimate --chip H100 --model 8B --max-num-tokens 1024", "--max-num-tokens", "--concurrency"),
    case("estimate --chip H100 --model 8B --seed 3", "--seed", "--concurrency"),
    # ---- dtypes a chip lacks, models that do not fit ----
    case("estimate --chip A100 --model 8B --weight-dtype fp8", "weight_dtype=fp8", "A100", "lacks"),
    case("estimate --chip H100 --model 8B --mode inference --weight-dtype fp4", "weight_dtype=fp4", "H100-SXM"),
    case("estimate --chip A100 --model 8B --mode training --dtype fp8", "dtype=fp8", "A100", "bf16"),
    case("estimate --chip L40S --model 405B --tp 1", "405B", "does not fit", "needs at least"),
    case("estimate --chip H20 --model 405B --mode inference", "does not fit", "needs at least", "--pp"),
    case("estimate --chip H100 --model 405B --mode training --num-chips 8", "does not fit", "8 x H100-SXM",
         "GB per chip"),
    case("estimate --chip H100 --model 8B --mode training --num-chips 1 --seq-len 1000000", "does not fit",
         "--seq-len"),
    # ---- options of the other mode ----
    case("estimate --chip H100 --model 8B --mode training --batch 4", "--batch", "inference only"),
    case("estimate --chip H100 --model 8B --mode inference --num-chips 4", "--num-chips", "training only"),
    # ---- training values and impossible layouts ----
    case("estimate --chip H100 --model 8B --mode training --num-chips 0", "--num-chips", "0"),
    case("estimate --chip H100 --model 8B --mode training --num-chips 3 --tp 2", "num_chips=3", "no valid layout"),
    case(f"estimate --chip H100 --model 8B --mode training --num-chips {BIG}", "num_chips=", "exceeds"),
    case("estimate --chip H100 --model 8B --mode training --tp 16", "tp=16", "scale-up domain"),
    case("estimate --chip H100 --model 8B --mode training --tp 8 --pp 4 --dp 3", "8x4x3x1", "num_chips=1024"),
    case("estimate --chip H100 --model 8B --mode training --pp 40", "pp=40", "32 layers"),
    case("estimate --chip H100 --model 8B --mode training --pp 5 --first-stage-layers 3 --last-stage-layers 3",
         "first_stage_layers=3", "do not split equally"),
    case("estimate --chip H100 --model 8B --mode training --first-stage-layers 3", "need a given pp"),
    case("estimate --chip H100 --model 8B --mode training --cp 3", "cp=3", "seq_len=4096"),
    case("estimate --chip H100 --model 8B --mode training --virtual-pp 3 --pp 1", "virtual_pp=3"),
    case("estimate --chip H100 --model 8B --mode training --num-chips 8 --tp 8 --pp 1 --dp 1 --micro-batch 2 "
         "--global-batch 7", "global_batch=7", "dp x micro_batch"),
    case("estimate --chip H100 --model 8B --mode training --seq-len 0", "--seq-len", "0"),
    case("estimate --chip H100 --model 8B --mode training --micro-batch abc", "--micro-batch", "'abc'"),
    case("estimate --chip H100 --model 8B --mode training --days 0", "days=0.0"),
    case("estimate --chip H100 --model 8B --mode training --days nan", "days=nan"),
    case("estimate --chip H100 --model 8B --mode training --days -1", "days=-1.0"),
    case("estimate --chip H100 --model 8B --mode training --days 5e-324", "days=5e-324", "more days"),
    case("estimate --chip H100 --model 8B --mode training --tokens abc", "tokens='abc'", "15T"),
    case("estimate --chip H100 --model 8B --mode training --tokens -5T", "tokens='-5T'", "positive"),
    case("estimate --chip H100 --model 8B --mode training --tokens inf", "tokens='inf'", "finite"),
    case("estimate --chip H100 --model 8B --mode training --tokens 1e30", "tokens='1e30'", "exceeds"),
    # ---- chip files: malformed, truncated, empty, wrong types, missing fields, unit slips ----
    case("estimate --chip {d}/chip-unclosed.toml --model 8B", "chip-unclosed.toml", "not valid TOML"),
    case("estimate --chip {d}/chip-truncated.toml --model 8B", "chip-truncated.toml", "not valid TOML"),
    case("estimate --chip {d}/chip-empty.toml --model 8B", "[peak_flops_per_s] is missing"),
    case("estimate --chip {d}/chip-latin1.toml --model 8B", "chip-latin1.toml", "not UTF-8"),
    case("estimate --chip {d}/chip-no-hbm.toml --model 8B", "[hbm] is missing"),
    case("estimate --chip {d}/chip-no-hbm-bytes.toml --model 8B", "hbm.bytes is missing"),
    case("estimate --chip {d}/chip-negative.toml --model 8B", "peak_flops_per_s.bf16=-1"),
    case("estimate --chip {d}/chip-nan.toml --model 8B", "peak_flops_per_s.bf16=nan"),
    case("estimate --chip {d}/chip-inf.toml --model 8B", "hbm.bytes_per_s=inf"),
    case("estimate --chip {d}/chip-zero.toml --model 8B", "scale_out.bytes_per_s=0"),
    case("estimate --chip {d}/chip-string.toml --model 8B", "peak_flops_per_s.bf16='148 TFLOPS'", "units"),
    case("estimate --chip {d}/chip-bool.toml --model 8B", "peak_flops_per_s.bf16=True"),
    case("estimate --chip {d}/chip-fp7.toml --model 8B", "peak_flops_per_s.fp7", "not a known dtype"),
    case("estimate --chip {d}/chip-fp8-only.toml --model 8B", "peak_flops_per_s", "bf16 or fp16"),
    case("estimate --chip {d}/chip-units.toml --model 8B", "hbm.bytes=80", "SI units", "80e9"),
    case("estimate --chip {d}/chip-tflops.toml --model 8B", "peak_flops_per_s.bf16=989", "SI units"),
    case("estimate --chip {d}/chip-domain.toml --model 8B", "scale_up.domain_size=2.5", "whole number"),
    case("estimate --chip {d}/chip-domain-huge.toml --model 8B", "scale_up.domain_size=", "exceeds"),
    case("estimate --chip {d}/chip-no-value.toml --model 8B", "peak_flops_per_s.bf16", "no 'value'"),
    case("estimate --chip {d}/chip-eff-typo.toml --model 8B", "efficiency.gemm_fracton", "gemm_fraction"),
    case("estimate --chip {d}/chip-eff-range.toml --model 8B", "efficiency.gemm_fraction=1.5", "[0.001, 1]"),
    case("estimate --chip {d}/chip-eff-denormal.toml --model 8B", "efficiency.gemm_fraction=1e-313", "[0.001, 1]"),
    case("estimate --chip {d}/chip-power.toml --model 8B", "power='x'", "table"),
    case("estimate --chip {d}/chip-price-date.toml --model 8B", "price.usd_per_hour", "date"),
    case("estimate --chip {d}/chip-price-source.toml --model 8B", "price.usd_per_hour", "no source"),
    case("estimate --chip {d}/chip-aliases.toml --model 8B", "aliases='H9'", "list of names"),
    case("estimate --chip {d}/chip-folder.toml --model 8B", "chip-folder.toml", "Is a directory"),
    case("estimate --chip {d}/no-such-chip.toml --model 8B", "no-such-chip.toml", "does not exist"),
    # ---- model files ----
    case("estimate --chip H100 --model {d}/model-no-layers.toml", "num_layers is missing"),
    case("estimate --chip H100 --model {d}/model-kv.toml", "num_kv_heads=3", "num_heads=4"),
    case("estimate --chip H100 --model {d}/model-norm.toml", "norm='batch'", "'rms' or 'layer'"),
    case("estimate --chip H100 --model {d}/model-bool.toml", "gated_mlp='yes'", "true or false"),
    case("estimate --chip H100 --model {d}/model-topk.toml", "experts_per_token=5", "num_experts=4"),
    case("estimate --chip H100 --model {d}/model-typo.toml", "num_expert", "did you mean", "num_experts"),
    case("estimate --chip H100 --model {d}/model-deep.toml", "num_layers=1,000,000,000", "exceeds"),
    case("estimate --chip H100 --model {d}/model-half.toml", "hidden_size=256.5", "whole number"),
    case("estimate --chip H100 --model {d}/model-zero.toml", "vocab_size=0"),
    case("estimate --chip H100 --model {d}/model-huge.toml", "intermediate_size=", "exceeds"),
    case("estimate --chip H100 --model {d}/model-mla.toml", "head_dim=64", "qk_nope_head_dim + qk_rope_head_dim"),
    case("estimate --chip H100 --model {d}/model-truncated.toml", "model-truncated.toml", "not valid TOML"),
    case("estimate --chip H100 --model {d}/model-empty.toml", "model-empty.toml", "num_layers is missing"),
    case("estimate --chip H100 --model {d}/no-such-model.toml", "no-such-model.toml", "does not exist"),
    # ---- Hugging Face config.json ----
    case("estimate --chip H100 --model {d}/hf-truncated", "config.json", "not valid JSON"),
    case("estimate --chip H100 --model {d}/hf-empty/config.json", "config.json", "not valid JSON"),
    case("estimate --chip H100 --model {d}/hf-array", "must hold a JSON object"),
    case("estimate --chip H100 --model {d}/hf-bert", "model_type 'bert'", "supported"),
    case("estimate --chip H100 --model {d}/hf-no-type", "'model_type' is missing"),
    case("estimate --chip H100 --model {d}/hf-no-hidden", "'hidden_size' is missing", "llama"),
    case("estimate --chip H100 --model {d}/hf-string", "hidden_size='4096'", "positive integer"),
    case("estimate --chip H100 --model {d}/hf-negative", "num_hidden_layers=-1"),
    case("estimate --chip H100 --model {d}/hf-zero-heads", "num_attention_heads=0"),
    case("estimate --chip H100 --model {d}/hf-half", "intermediate_size=11008.5"),
    case("estimate --chip H100 --model {d}/hf-nan", "hidden_size=nan"),
    case("estimate --chip H100 --model {d}/hf-inf", "vocab_size=inf"),
    case("estimate --chip H100 --model {d}/hf-huge", "vocab_size=", "401 digits", "exceeds"),
    case("estimate --chip H100 --model {d}/hf-kv", "num_key_value_heads=5"),
    case("estimate --chip H100 --model {d}/hf-flag", "tie_word_embeddings='no'", "true or false"),
    case("estimate --chip H100 --model {d}/hf-topk", "experts_per_token=9", "num_experts=8"),
    case("estimate --chip H100 --model {d}/hf-latin1", "config.json", "cannot read"),
    case("estimate --chip H100 --model {d}/hf-folder", "config.json", "cannot read"),
    case("estimate --chip H100 --model {d}/hf-none", "hf-none", "no config.json"),
    # ---- measurement CSV ----
    case("validate --data {d}/no-such.csv", "data=", "no-such.csv", "does not exist"),
    case("validate --data {d}/csv-empty.csv", "csv-empty.csv", "neither a training file"),
    case("validate --data {d}/csv-columns.csv", "csv-columns.csv", "SCHEMA.md"),
    case("validate --data {d}/csv-missing.csv", "csv-missing.csv", "lacks the column(s)", "chip_profile"),
    case("validate --data {d}/csv-latin1.csv", "csv-latin1.csv", "cannot be read as CSV"),
    case("validate --data {d}/csv-folder.csv", "--data", "csv-folder.csv", "is a directory"),
    case("validate --kv-dtype-when-blank fp4", "--kv-dtype-when-blank", "'fp4'"),
    case("validate --format xml", "--format", "'xml'"),
    # ---- plan ----
    case("plan --chip H100 --model 8B --top 0", "--top", "0"),
    case("plan --chip H100 --model 8B --num-chips 0", "--num-chips", "0"),
    case("plan --chip H100 --model 405B --num-chips 8", "does not fit", "8 x H100-SXM"),
    case("plan --chip H100 --model 8B --num-chips 7 --tp 2", "num_chips=7", "no valid layout"),
    case("plan --chip H2O --model 8B", "chip", "'H2O'", "H20"),
    case("plan --chip H100 --model lama", "model", "'lama'"),
    case("plan --chip H100 --model 8B --tokens 5Q", "tokens='5Q'"),
    case("plan --chip H100 --model 8B --days 0", "days=0.0"),
    case("plan --chip H100 --model 8B --format yaml", "--format", "'yaml'"),
    case("plan --chip {d}/chip-nan.toml --model 8B", "peak_flops_per_s.bf16=nan"),
    case("plan --chip H100 --model 8B --zero 5", "--zero", "'5'"),
    # ---- compare ----
    case("compare --chips H20,,H100 --model 70B", "--chips", "empty name"),
    case("compare --chips <blank> --model 70B", "--chips", "empty name"),
    case("compare --chips H20,H2O --model 70B", "'H2O'", "H20"),
    case("compare --chips H20,H20 --model 70B", "H20", "twice"),
    case("compare --chips H20 --model 70B --price-per-hour -1", "--price-per-hour", "'-1'"),
    case("compare --chips H20 --model 70B --price-per-hour nan", "--price-per-hour", "'nan'"),
    case("compare --chips H20 --model 70B --price-per-hour abc", "--price-per-hour", "'abc'"),
    case("compare --chips H20,H100 --model 70B --price-per-hour 1,2,3", "3 prices for 2 chips"),
    case("compare --chips H20 --model 70B --price-per-hour 1e308", "price_per_hour=1e+308"),
    case("compare --chips H20 --model 70B --max-tpot-ms 0", "--max-tpot-ms", "0"),
    case("compare --chips H20 --model 70B --max-tpot-ms nan", "max_tpot_s=nan"),
    case("compare --chips H20 --model 70B --num-chips 0", "--num-chips", "0"),
    case("compare --chips H20 --model 70B --reference foo", "--reference", "'foo'"),
    case("compare --chips H20 --model 70B --tokens -1", "tokens='-1'"),
    case("compare --chips H20 --model nope", "model", "'nope'"),
    case(f"compare --chips H20 --model 8B --input-len {BIG}", "input_len=", "exceeds"),
    # ---- plot: output paths that cannot be written, bad kinds and counts ----
    case("plot roofline --chips H20 --model 70B -o /nonexistent/dir/x.png", "/nonexistent/dir", "does not exist"),
    case("plot roofline --chips H20 --model 70B -o {out}", "-o", "is a directory"),
    case("plot roofline --chips H20 --model 70B -o {out}/x.pdf", "x.pdf", "'.pdf'", ".png or .svg"),
    case("plot roofline --chips H20 --model 70B -o {out}/x", "output=", "(none)", ".png or .svg"),
    case("plot scatter --chips H20 --model 70B -o {out}/x.png", "KIND", "'scatter'"),
    case("plot scaling --chips H20 --model 70B --counts 0,1 -o {out}/x.png", "--counts", "'0,1'"),
    case("plot scaling --chips H20 --model 70B --counts a -o {out}/x.png", "--counts", "'a'"),
    case(f"plot scaling --chips H20 --model 8B --counts {BIG} -o {{out}}/x.png", "counts=", "401 digits"),
    case("plot batch --chips H20 --model 70B --tp 3 -o {out}/x.png", "tp=3", "64 attention heads"),
    case("plot roofline --chips H20 --model 70B", "-o"),
    case("plot roofline --chips H2O --model 70B -o {out}/x.png", "'H2O'", "H20"),
    case("plot roofline --chips H20 --model {d}/hf-bert -o {out}/x.svg", "model_type 'bert'"),
    case("plot batch --chips H20 --model 70B --max-tpot-ms -5 -o {out}/x.svg", "--max-tpot-ms", "-5"),
    # ---- listings ----
    case("chips --format xml", "--format", "'xml'"),
    case("models --format xml", "--format", "'xml'"),
    case("chips H20", "H20"),
]

#: Cases for ``roofline sweep``, run only when the command exists.
SWEEP_CASES: list[Case] = [
    case("sweep --chips H2O --models 8B", "'H2O'", "H20"),
    case("sweep --chips H100 --models lama", "'lama'"),
    case("sweep --chips H100 --models 8B --format xml", "--format", "'xml'"),
    case("sweep --chips H100 --models 8B -o /nonexistent/dir/x.csv", "/nonexistent/dir", "does not exist"),
    case("sweep --chips H100 --models 8B -o {out}", "-o", "is a directory"),
    case("sweep --chips H100 --models 8B --max-tpot-ms -1 --best", "--max-tpot-ms", "-1"),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-inputs")
    for name, content in FILES.items():
        path = d / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return {"d": d, "out": d / "out"}


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def run_case(c: Case, folders: dict[str, Path]):
    args = [a.format(d=folders["d"], out=folders["out"]) for a in c.args]
    before = _tree(folders["d"])
    result = CliRunner().invoke(main, args)
    return result, _tree(folders["d"]) - before


def check(c: Case, folders) -> str:
    """Run ``c``; assert exit 2, one `roofline: error:` line with the expected substrings, no traceback, no
    file left behind. Returns the line."""
    result, new_files = run_case(c, folders)
    out = result.output
    assert result.exit_code == 2, (c.args, out)
    assert isinstance(result.exception, SystemExit), (c.args, result.exception)
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("roofline: error: "), out
    for needle in c.expect:
        assert needle.format(d=folders["d"], out=folders["out"]) in lines[0], (needle, lines[0])
    assert not new_files, new_files
    return lines[0]


@pytest.mark.parametrize("c", CASES, ids=lambda c: " ".join(c.args)[:90])
def test_bad_input_is_refused_in_one_line(c, folders):
    check(c, folders)


@pytest.mark.parametrize("c", SWEEP_CASES, ids=lambda c: " ".join(c.args)[:90])
def test_bad_sweep_input_is_refused_in_one_line(c, folders):
    if "sweep" not in main.commands:
        pytest.skip("no sweep command yet")
    check(c, folders)


def _profile_names() -> list[str]:
    from roofline.loaders.chips import CHIPS
    from roofline.loaders.models import MODELS

    return sorted({*CHIPS.names(), *CHIPS.all_keys(), *MODELS.names(), *MODELS.all_keys()}, key=len, reverse=True)


def normalise(line: str) -> str:
    """An error line with its values replaced by placeholders (quoted strings, numbers, profile names,
    suggestions, the command in "see --help"): the template it came from."""
    line = re.sub(r" \(see `[^`]*`\)$", "", line)
    line = re.sub(r"did you mean [^?]*\?", "did you mean <names>?", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "<s>", line)
    line = re.sub("|".join(re.escape(n) for n in _profile_names() if len(n) > 2), "<name>", line)
    line = re.sub(r"(?<![\w.])[-+]?(\d[\d,_]*(\.\d+)?(e[-+]?\d+)?|nan|inf)(?![\w.])", "<n>", line)
    return re.sub(r"<n>(, <n>)+", "<n>...", line)


def test_corpus_is_large_and_varied(folders):
    """At least 60 cases over every command; their messages come from many distinct templates."""
    assert len(CASES) >= 60
    commands = {c.args[0] for c in CASES}
    assert {"estimate", "plan", "validate", "compare", "plot", "chips", "models"} <= commands
    assert len({normalise(line) for line in map(lambda c: check(c, folders), CASES[:40])}) >= 25


def test_no_traceback_even_for_unexpected_os_errors(folders, monkeypatch):
    """A file that cannot be read for a reason the loaders do not foresee is still one line."""
    import roofline.loaders.files

    def deny(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(roofline.loaders.files.Path, "read_bytes", deny)
    check(case("estimate --chip {d}/chip-nan.toml --model 8B", "chip-nan.toml", "Permission denied"), folders)


def test_an_unwritable_output_folder_is_one_line(folders, monkeypatch):
    pytest.importorskip("matplotlib")
    import tempfile

    def deny(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", deny)
    check(case("plot roofline --chips H20 --model 70B -o {out}/x.png", "output=", "Permission denied",
               "writable folder"), folders)
    assert not os.listdir(folders["out"])
