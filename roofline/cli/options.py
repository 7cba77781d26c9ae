"""Options shared by several commands, declared once, their choices taken from the library's registries;
and the small parsers that turn option strings into library arguments."""

from __future__ import annotations

import math

import click
from click.core import ParameterSource

from roofline import api
from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.engines import ENGINES
from roofline.workload import CP_COMM_TYPES, KERNEL_MODES, RECOMPUTE_MODES, TRAIN_DTYPES, TrainingWorkload


def group(*options):
    """A decorator applying ``options`` in the order given (as they appear in ``--help``)."""
    def apply(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return apply


def positive_ms(_ctx, _param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} must be a positive number of milliseconds, such as 50")
    return value


def _days(_ctx, _param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"days={value} must be a positive number of days, such as 90")
    return value


CHIP = click.option("--chip", required=True,
                    help="Chip profile name or alias (see `roofline chips`), or a .toml file.")
MODEL = click.option("--model", "model_name", required=True,
                     help="Model profile name or alias (see `roofline models`), a HF config.json or its folder, or "
                          "a .toml.")
INPUT_LEN = click.option("--input-len", type=click.IntRange(min=1), default=2048, show_default=True,
                         help="Prompt tokens per request.")
OUTPUT_LEN = click.option("--output-len", type=click.IntRange(min=1), default=256, show_default=True,
                          help="Generated tokens per request.")
WEIGHT_DTYPE = click.option("--weight-dtype", type=click.Choice(WEIGHT_DTYPES, case_sensitive=False), default=None,
                            help="Weight format (int8/int4 are weight-only: they compute in 16-bit). Default: the "
                                 "format the model's config.json declares (quantization_config, "
                                 "hf_quant_config.json), else bf16.")
KV_DTYPE = click.option("--kv-dtype", type=click.Choice(KV_DTYPES, case_sensitive=False), default=None,
                        help="KV-cache format. Default: the engine's (trtllm: the format the checkpoint "
                             "declares, where it declares one), else 16-bit like the activations.")
ENGINE = click.option("--engine", type=click.Choice(list(ENGINES)), default="generic", show_default=True,
                      help="Serving engine preset (scheduling policy, token budget, memory share, default KV "
                           "format and fixed costs), for the lone batch, the simulation and the verdict.")
MAX_NUM_TOKENS = click.option("--max-num-tokens", type=click.IntRange(min=1), default=None,
                              help="Tokens per engine step (chunked-prefill budget). Default: the engine's.")
MAX_TPOT_MS = click.option("--max-tpot-ms", type=float, default=None, callback=positive_ms,
                           help="Target time per output token (milliseconds). Default: none.")
MAX_TTFT_MS = click.option("--max-ttft-ms", type=float, default=None, callback=positive_ms,
                           help="Target time to first token, waiting included (milliseconds). Default: none.")


def text_or_json(fn):
    return click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                        show_default=True)(fn)


def text_json_or_csv(left_out: str):
    """``--format`` of the commands that also write CSV (:mod:`roofline.render.csv_table`); ``left_out`` names
    the lists of records the CSV leaves out, for the help text."""
    return click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text",
                        show_default=True,
                        help=f"csv: the JSON's scalar fields with dotted names; {left_out} only in json.")


#: Options of a training run, shared by ``estimate`` and ``plan`` (``--tp``/``--pp`` are added per command).
training_options = group(
    click.option("--num-chips", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="Training: chips in the job (tp x pp x dp x cp)."),
    click.option("--dp", type=click.IntRange(min=1), default=None, help="Training: data-parallel size."),
    click.option("--cp", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Training: context-parallel size."),
    click.option("--cp-comm-type", type=click.Choice(CP_COMM_TYPES, case_sensitive=False), default="p2p",
                 show_default=True,
                 help="Training: how context parallelism exchanges attention's inputs (Megatron-LM's option): p2p "
                      "rings K/V under the attention, a2a swaps sequence for head shards (Ulysses; tp x cp must "
                      "divide the KV heads), all_gather gathers the whole K/V first."),
    click.option("--micro-batch", type=click.IntRange(min=1), default=None,
                 help="Training: sequences per micro-batch per DP rank."),
    click.option("--global-batch", type=click.IntRange(min=1), default=None,
                 help="Training: sequences per optimizer step. Default: ~4M tokens (more on large jobs)."),
    click.option("--seq-len", type=click.IntRange(min=1), default=4096, show_default=True,
                 help="Training: tokens per sequence."),
    click.option("--recompute", type=click.Choice(RECOMPUTE_MODES, case_sensitive=False), default=None,
                 help="Training: activation recomputation."),
    click.option("--zero", type=click.Choice(["0", "1", "2", "3"]), default=None,
                 help="Training: ZeRO stage (1 optimizer, 2 +gradients, 3 +weights sharded over DP)."),
    click.option("--dtype", "train_dtype", type=click.Choice(TRAIN_DTYPES, case_sensitive=False), default=None,
                 help="Training: matmul precision. Default: bf16 (fp16 on chips without bf16)."),
    click.option("--kernels", type=click.Choice(KERNEL_MODES, case_sensitive=False), default="fused", show_default=True,
                 help="Training: fused (Megatron-LM, TransformerEngine, torch.compile) or eager (PyTorch op by op, "
                      "as a reference Llama implementation without torch.compile: RMSNorm, rotary and SwiGLU "
                      "as several HBM passes each)."),
    click.option("--virtual-pp", type=click.IntRange(min=1), default=None,
                 help="Training: virtual pipeline stages per chip (interleaved schedule)."),
    click.option("--first-stage-layers", type=click.IntRange(min=1), default=None,
                 help="Training: layers of the first pipeline stage (uneven stages). Default: the split rule "
                      "(an even split, else ceil(L/pp) per middle stage and the rest on the two ends)."),
    click.option("--last-stage-layers", type=click.IntRange(min=1), default=None,
                 help="Training: layers of the last pipeline stage (uneven stages). Default: the split rule."),
    click.option("--tokens", default=None, metavar="N",
                 help="Training: token budget, e.g. 15T, 2e12, 1.5B (K, M, B/G, T).  [default: 15T]"),
    click.option("--days", type=float, default=None, callback=_days,
                 help="Training: also report the chips needed to train the budget within this many days."),
)
TRAINING_ONLY = ("num_chips", "dp", "cp", "cp_comm_type", "micro_batch", "global_batch", "seq_len", "recompute", "zero",
                 "train_dtype", "kernels", "virtual_pp", "first_stage_layers", "last_stage_layers", "tokens", "days")


def given(ctx: click.Context, names) -> list[str]:
    """The options among ``names`` that the user typed (as ``--flag``), in command order."""
    return [p.opts[0] for p in ctx.command.params
            if p.name in names and ctx.get_parameter_source(p.name) is not ParameterSource.DEFAULT]


def refuse_other_mode(ctx: click.Context, names, mode: str, other: str, hint: str = "") -> None:
    """A usage error when options of ``other`` mode only were typed with ``--mode mode``."""
    wrong = given(ctx, names)
    if wrong:
        one = len(wrong) == 1
        raise click.UsageError(f"{', '.join(wrong)} {'applies' if one else 'apply'} to {other} only, not --mode "
                               f"{mode}" + (hint.format(it="it" if one else "them") if hint else ""))


def training_workload(chip: Chip, params: dict) -> TrainingWorkload:
    """The ``TrainingWorkload`` of the parsed options; ``tokens`` is parsed by its converter."""
    fields = {k: params[k] for k in ("num_chips", "tp", "pp", "dp", "cp", "cp_comm_type", "micro_batch",
                                     "global_batch", "seq_len", "recompute", "kernels", "virtual_pp",
                                     "first_stage_layers", "last_stage_layers")}
    if params["zero"] is not None:
        fields["zero"] = int(params["zero"])
    if params.get("ep") is not None:
        fields["ep"] = params["ep"]
    if params["tokens"] is not None:
        fields["tokens"] = params["tokens"]
    return TrainingWorkload(dtype=params["train_dtype"] or chip.half_dtype, **fields)


def reference_chip(name: str) -> Chip:
    """The --reference chip, its loading errors attributed to the option."""
    try:
        return load_chip(name)
    except RooflineError as exc:
        raise click.BadParameter(str(exc), param_hint="--reference") from None


def milliseconds(value: float | None) -> float | None:
    """Seconds of an option given in milliseconds."""
    return None if value is None else value / 1e3


def chip_list(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",")]
    if not value.strip() or any(not n for n in names):
        raise click.BadParameter(f"{value!r} has an empty name; list chip names separated by commas, e.g. "
                                 f"H20,H100", param_hint="--chips")
    return names


def prices(value: str | None) -> list[float] | None:
    """Dollars per chip-hour, one or one per chip, each checked by the library."""
    if value is None:
        return None
    out = []
    for text in value.split(","):
        try:
            out.append(api.check_price(float(text)))
        except RooflineError as exc:
            raise click.BadParameter(f"{text.strip()!r}: {exc}", param_hint="--price-per-hour") from None
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a number or a comma-separated list of numbers (dollars per "
                                     f"chip-hour), e.g. 2.5 or 1.8,3.0", param_hint="--price-per-hour") from None
    return out


def counts(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        parsed = [int(v) for v in value.split(",")]
    except ValueError:
        parsed = []
    if not parsed or any(c < 1 for c in parsed):
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive chip counts, e.g. "
                                 f"64,256,1024", param_hint="--counts")
    return parsed


def _pool_options(role: str, workers: bool) -> list:
    """--{role}-chip, -tp, -pp, -ep (and -workers, -batch when ``workers``) of a disaggregated pool."""
    what = "prompts per attention group per pass (default: as many as the token budget and KV cache hold)" \
        if role == "prefill" else "sequences per attention group at most (default: as many as its KV cache holds)"
    opts = [click.option(f"--{role}-chip", default=None,
                         help=f"Disaggregated: the {role} pool's chip (default --chip)."),
            click.option(f"--{role}-tp", type=click.IntRange(min=1), default=None,
                         help=f"Disaggregated: {role} tensor-parallel size" + (" (default: searched)." if not workers
                                                                              else " (default: smallest that fits).")),
            click.option(f"--{role}-pp", type=click.IntRange(min=1), default=None,
                         help=f"Disaggregated: {role} pipeline stages (default 1)."),
            click.option(f"--{role}-ep", type=click.IntRange(min=1), default=None,
                         help=f"Disaggregated: {role} expert-parallel size (MoE; > tp adds attention groups)"
                              + (" (default: searched)." if not workers else " (default 1).")),]
    if workers:
        opts += [click.option(f"--{role}-workers", type=click.IntRange(min=1), default=1, show_default=True,
                              help=f"Disaggregated: {role} workers."),
                 click.option(f"--{role}-batch", type=click.IntRange(min=1), default=None,
                              help=f"Disaggregated: {role} {what}."),
                 click.option(f"--{role}-attn-dp", type=click.IntRange(min=1), default=None,
                              help=f"Disaggregated: {role} data-parallel attention groups sharing split experts "
                                   f"(as --attn-dp; default 1).")]
    return opts


#: ``--disagg`` and the pools' options of ``estimate`` (fixed layouts) and of ``plan`` (searched).
DISAGG_FLAG = click.option("--disagg", is_flag=True,
                           help="Disaggregated serving: prefill on one pool of workers, decode on another, the KV "
                                "cache sent between them (--prefill-* and --decode-* options).")
disagg_estimate_options = group(DISAGG_FLAG, *_pool_options("prefill", True), *_pool_options("decode", True))
disagg_plan_options = group(DISAGG_FLAG, *_pool_options("prefill", False), *_pool_options("decode", False))
POOL_KEYS = ("chip", "tp", "pp", "ep", "workers", "batch", "attn_dp")
DISAGG_ONLY = tuple(f"{role}_{key}" for role in ("prefill", "decode") for key in POOL_KEYS)


def pool_chip(params: dict, role: str, chip: Chip) -> Chip:
    """The --{role}-chip chip, else ``chip``; loading errors attributed to the option."""
    name = params.get(f"{role}_chip")
    if name is None:
        return chip
    try:
        return load_chip(name)
    except RooflineError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{role}-chip") from None


def pools(params: dict, chip: Chip) -> dict:
    """The prefill and decode :class:`~roofline.serving.disagg.Pool` of the parsed options."""
    from roofline.serving.disagg import Pool

    out = {}
    for role in ("prefill", "decode"):
        get = {k: params.get(f"{role}_{k}") for k in POOL_KEYS}
        out[role] = Pool(pool_chip(params, role, chip), tp=get["tp"], pp=get["pp"] or 1, ep=get["ep"] or 1,
                         workers=get["workers"] or 1, batch=get["batch"], dp_attention=get["attn_dp"] or 1)
    return out
