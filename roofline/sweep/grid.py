"""The grid of a sweep: every chip x model x layout x formats group loaded, checked and packed once."""

from __future__ import annotations

import itertools

import attrs
import numpy as np

from roofline.checkpoint import checkpoint_weight_dtype, on_chip
from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES, check
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.engines import ENGINES
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.pack import pack_group, pack_workload, replica_batch
from roofline.passes import Packed
from roofline.sweep.axes import parse_axis, parse_names
from roofline.workload import Workload, check_layout, valid_tp_sizes, with_engine_kv


@attrs.frozen
class Grid:
    """Packed groups (chip x model x layout x formats) and the numeric axes: what the kernels read.

    ``g_*`` arrays describe each group (its chip and model positions, layout, formats, chips per
    replica and usable bytes per chip); the ``G_KEY`` column of ``groups`` is its reduction key.
    """

    chips: tuple[Chip, ...]
    models: tuple[Model, ...]
    ms: np.ndarray
    hws: np.ndarray
    hw_chip: np.ndarray  # the position in ``chips`` of each row of ``hws``
    ws: np.ndarray
    groups: np.ndarray
    wbatch: np.ndarray
    batches: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray
    g_chip: np.ndarray
    g_model: np.ndarray
    g_tp: np.ndarray
    g_pp: np.ndarray
    g_ep: np.ndarray
    g_dp: np.ndarray  # Workload.dp_attention
    g_weight: np.ndarray
    g_kv: np.ndarray
    g_chips: np.ndarray
    g_usable: np.ndarray
    skipped: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_rows(self) -> int:
        return self.n_groups * len(self.batches)

    @property
    def n_configs(self) -> int:
        return self.n_rows * len(self.inputs) * len(self.outputs)

    def unravel(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, batch, input, output) positions of configuration indices."""
        return np.unravel_index(index, (self.n_groups, len(self.batches), len(self.inputs), len(self.outputs)))


def build_grid(chips, models, *, batch=1, input_len=2048, output_len=256, tp=None, pp=1, ep=1, attn_dp=1,
               weight_dtype=None, kv_dtype=None, key: str = "chip_model", max_chips: int | None = None,
               engine: str | None = None) -> Grid:
    """Load, validate and pack every group of the sweep (the hardware vectors carry the fixed costs of
    ``engine``, default the generic one, as every estimate does).

    A group the chip and model cannot run (a TP that does not divide the heads, a dtype the chip lacks,
    more stages than layers, an EP the model has no experts for) is left out with the reason in
    ``skipped``; TP sizes of the default (every valid size within the scale-up domain) are left out
    silently, as are layouts of more than ``max_chips`` chips and, unless ``tp`` is given, the
    ``attn_dp`` values (``Workload.dp_attention``) a layout cannot take. ``weight_dtype`` None: each model's
    checkpoint format (:func:`roofline.checkpoint.checkpoint_weight_dtype`). ``key``: ``"chip_model"`` (reductions per
    chip and model) or ``"group"`` (one key per group).
    """
    chip_list = [c if isinstance(c, Chip) else load_chip(c) for c in parse_names(chips, "chips")]
    model_list = [m if isinstance(m, Model) else load_model(m) for m in parse_names(models, "models")]
    batches = parse_axis(batch, "batch")
    inputs = parse_axis(input_len, "input_len")
    outputs = parse_axis(output_len, "output_len")
    pps = parse_axis(pp, "pp")
    eps = parse_axis(ep, "ep")
    dps = parse_axis(attn_dp, "attn_dp")
    tps = None if tp is None else parse_axis(tp, "tp")
    given = None if weight_dtype is None else [check("weight_dtype", d, WEIGHT_DTYPES)
                                                 for d in parse_names(weight_dtype, "weight_dtype")]
    kvs = [None if d is None else check("kv_dtype", d, KV_DTYPES) for d in parse_names(kv_dtype, "kv_dtype")]
    # the largest value of each axis through the workload's own checks (the kernels see the others only)
    Workload(batch=max(batches), input_len=max(inputs), output_len=max(outputs), tp=max(tps) if tps else None,
             pp=max(pps), ep=max(eps), dp_attention=max(dps))
    ms, hws, hw_chip, ws, groups, meta, skipped = [], [], [], [], [], [], []
    for ci, chip in enumerate(chip_list):
        for mi, model in enumerate(model_list):
            m_row = hw_row = None
            seen = set()  # two formats the chip runs alike (a checkpoint's fp4 and int4 on Hopper) priced once
            for wd in given or [checkpoint_weight_dtype(model)]:
                for kv in kvs:
                    # a blank KV format is the engine's default for the checkpoint, as every estimate reads it
                    ask = with_engine_kv(Workload(input_len=inputs[0], output_len=outputs[0], weight_dtype=wd,
                                                  kv_dtype=kv), model, ENGINES[engine or "generic"].kv_auto)
                    base = on_chip(ask, model, chip)
                    if (base.weight_dtype, base.kv_dtype) in seen:
                        continue
                    seen.add((base.weight_dtype, base.kv_dtype))
                    try:
                        check_layout(chip, model, base)
                    except RooflineError as exc:
                        skipped.append(f"{chip.name} {model.name} {wd}: {exc}")
                        continue
                    p = Packed(chip, model, base, ENGINES[engine or "generic"])
                    if m_row is None:
                        ms.append(p.m)
                        m_row = len(ms) - 1
                    hws.append(p.hw)
                    hw_chip.append(ci)
                    hw_row = len(hws) - 1
                    tp_list = tps or valid_tp_sizes(model, limit=chip.scale_up_domain)
                    for t in tp_list:
                        for s in pps:
                            for e, d in itertools.product(eps, dps):
                                wl = attrs.evolve(base, tp=t, pp=s, ep=e, dp_attention=d)
                                try:
                                    check_layout(chip, model, wl)
                                except RooflineError as exc:
                                    if tps is not None or ((e > 1 or s > 1) and d == 1):
                                        skipped.append(f"{chip.name} {model.name} tp={t} pp={s} ep={e}"
                                                       + (f" attn_dp={d}" if d > 1 else "") + f": {exc}")
                                    continue
                                if max_chips is not None and wl.num_chips > max_chips:
                                    continue
                                ws.append(pack_workload(wl, p.eff.max_tokens_per_pass, 1))
                                key_value = ci * len(model_list) + mi if key == "chip_model" else len(groups)
                                groups.append(pack_group(m_row, hw_row, key_value, wl))
                                meta.append((ci, mi, t, s, e, wl.weight_dtype, wl.kv, wl.num_chips, p.usable(), d, wl))
    if not groups:
        raise RooflineError(f"sweep: no combination can run; {skipped[0] if skipped else 'check the axes'}")
    # W_BATCH of each replica batch, as pack_workload gives it: the sequences of one data-parallel
    # attention group, so it depends on the group only through attn_dp (packed once per value)
    wbatch = np.empty((len(groups), len(batches)))
    per_dp: dict[int, np.ndarray] = {}
    for g, (*_, wl) in enumerate(meta):
        if wl.attn_dp not in per_dp:
            per_dp[wl.attn_dp] = np.array([replica_batch(wl, b) for b in batches], dtype=np.float64)
        wbatch[g] = per_dp[wl.attn_dp]
    cols = list(zip(*meta))
    return Grid(
        chips=tuple(chip_list), models=tuple(model_list), ms=np.array(ms), hws=np.array(hws),
        hw_chip=np.array(hw_chip, dtype=np.int64), ws=np.array(ws),
        groups=np.array(groups), wbatch=wbatch,
        batches=np.array(batches, dtype=np.float64), inputs=np.array(inputs, dtype=np.float64),
        outputs=np.array(outputs, dtype=np.float64),
        g_chip=np.array(cols[0], dtype=np.int64), g_model=np.array(cols[1], dtype=np.int64),
        g_tp=np.array(cols[2], dtype=np.int64), g_pp=np.array(cols[3], dtype=np.int64),
        g_ep=np.array(cols[4], dtype=np.int64), g_weight=np.array(cols[5]), g_kv=np.array(cols[6]),
        g_chips=np.array(cols[7], dtype=np.int64), g_usable=np.array(cols[8], dtype=np.float64),
        g_dp=np.array(cols[9], dtype=np.int64), skipped=tuple(skipped),
    )
