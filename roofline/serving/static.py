"""The static batch estimate (``roofline estimate``): one prefill of the whole batch (TTFT), the decode step at
the mean context (TPOT), memory per chip and fit; and the layout search it relies on (the smallest TP that
fits, the fewest pipeline stages that hold a sequence, the chips a model needs when it fits nowhere)."""

from __future__ import annotations

import attrs

from roofline.checkpoint import runs_as
from roofline.chip import Chip
from roofline.engines import Engine
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.model import Model
from roofline.passes import Packed
from roofline.results.inference import BatchPoint, InferenceEstimate
from roofline.workload import Workload, check_layout, decode_context, valid_tp_sizes


def choose_tp(chip: Chip, model: Model, wl: Workload) -> int:
    """Smallest valid TP within the scale-up domain at which the batch fits (or, failing that, at which
    one sequence fits); the project error, with the chips needed, when none does."""
    candidates = _tp_options(chip, model, wl)
    for need_batch in (wl.batch, 1):
        for tp in candidates:
            if Packed(chip, model, attrs.evolve(wl, tp=tp)).fits(need_batch):
                return tp
    raise not_fitting_error(chip, model, wl)


def _tp_options(chip: Chip, model: Model, wl: Workload) -> list[int]:
    """Valid TP sizes within the scale-up domain that also fit the expert-parallel size."""
    return [tp for tp in valid_tp_sizes(model, limit=chip.scale_up_domain)
            if wl.ep == 1 or wl.ep % tp == 0 or tp % wl.ep == 0]


def fewest_stages(chip: Chip, model: Model, wl: Workload, tp: int) -> int | None:
    """The fewest pipeline stages at which one sequence fits at ``tp`` (None when not even one layer per
    stage does). From two stages on, memory per chip never grows with the stages (a stage holds
    ceil(layers / pp) layers and the larger of the embedding and the head), so after pp = 1 the answer
    is found by bisection: a few dozen memory checks even for a model of thousands of layers."""
    def fits(pp: int) -> bool:
        return Packed(chip, model, attrs.evolve(wl, tp=tp, pp=pp)).fits(1)

    if fits(1):
        return 1
    lo, hi = 1, model.num_layers  # lo does not fit
    if hi == 1 or not fits(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def _fewest_chips(chip: Chip, model: Model, wl: Workload) -> tuple[int, int, int] | None:
    """(chips, tp, pp) of the fewest chips that hold one sequence over the TP sizes, ties to the fewest
    stages, then the smallest TP; None when no layout does."""
    best = None
    for i, tp in enumerate(_tp_options(chip, model, wl) or [1]):
        pp = fewest_stages(chip, model, wl, tp)
        if pp is not None and (best is None or (max(tp, wl.ep) * pp, pp, i) < best[0]):
            best = ((max(tp, wl.ep) * pp, pp, i), tp, pp)
    return None if best is None else (best[0][0], best[1], best[2])


def not_fitting_error(chip: Chip, model: Model, wl: Workload) -> RooflineError:
    """Say that the model does not fit and how many chips (TP x PP) it needs at batch 1
    (:func:`_fewest_chips`); with 16-bit weights, also how many it needs in 8 bits (fp8, or int8 weight-only
    on a chip without fp8), when that is fewer."""
    tps = _tp_options(chip, model, wl) or [1]
    found = _fewest_chips(chip, model, wl)
    probe = Packed(chip, model, attrs.evolve(wl, tp=wl.tp or tps[-1], batch=1))
    needed_gb = probe.memory_needed(1) / 1e9
    usable_gb = probe.usable() / 1e9
    where = f"tp={wl.tp or tps[-1]}, pp={wl.pp}"
    if found is None:
        return RooflineError(f"model {model.name} does not fit on {chip.name} at {where}: needs "
                             f"{needed_gb:.1f} GB per chip, {usable_gb:.1f} GB usable; no layout fits")
    ep = f" --ep {wl.ep}" if wl.ep > 1 else ""
    narrower = ""
    if wl.weight_dtype in ("bf16", "fp16"):
        eight = runs_as("fp8", chip)
        fewer = _fewest_chips(chip, model, attrs.evolve(wl, weight_dtype=eight))
        if fewer is not None and fewer[0] < found[0]:
            narrower = f" (or {fewer[0]} with --weight-dtype {eight}: --tp {fewer[1]} --pp {fewer[2]}{ep})"
    return RooflineError(f"model {model.name} does not fit on {chip.name} at {where}: needs {needed_gb:.1f} GB "
                         f"per chip, {usable_gb:.1f} GB usable; it needs at least {found[0]} "
                         f"chips, e.g. --tp {found[1]} --pp {found[2]}{ep}{narrower}")


def _table_batches(batch: int, max_batch: int) -> list[int]:
    """The requested batch, then powers of 4 above it up to the largest that fits, and that one."""
    out = [batch]
    b = 1
    while b <= batch:
        b *= 4
    while b < max_batch and len(out) < 6:
        out.append(b)
        b *= 4
    if max_batch > batch:
        out.append(max_batch)
    return out


def estimate_inference(chip: Chip, model: Model, workload: Workload | None = None,
                       engine: Engine | None = None) -> InferenceEstimate:
    """Estimate serving ``model`` on ``chip`` for ``workload`` (defaults: batch 1, 2048 in, 256 out) with the
    fixed costs of ``engine`` (default: the generic engine's).

    TTFT is the prefill of the whole batch in one pass; TPOT is the decode step at the mean context
    (input + (output - 1) / 2) and output tokens/s is batch ÷ TPOT. Raises the project error for an
    impossible layout, a dtype the chip lacks, or a model that does not fit even at batch 1.
    """
    wl = workload or Workload()
    check_layout(chip, model, wl)
    if wl.tp is None:
        wl = attrs.evolve(wl, tp=choose_tp(chip, model, wl))
    p = Packed(chip, model, wl, engine)
    if not p.fits(1):
        raise not_fitting_error(chip, model, wl)

    prefill = p.prefill(wl.batch)
    decode = p.decode(wl.batch)
    weights, kv, workspace = p.memory()
    mb = p.max_batch()
    table = []
    for b in _table_batches(wl.batch, mb):
        tp_b = p.tpot(b)
        table.append(BatchPoint(batch=int(b), ttft_s=float(p.ttft(b)), tpot_s=float(tp_b),
                                output_tokens_per_s=float(b / tp_b), fits=bool(p.fits(b))))
    return InferenceEstimate(
        workload=wl,
        efficiency=p.eff,
        fits=bool(p.fits(wl.batch)),
        weights_bytes_per_chip=weights,
        kv_bytes_per_chip=kv,
        workspace_bytes_per_chip=workspace,
        usable_bytes_per_chip=float(p.usable()),
        max_batch=mb,
        prefill=prefill,
        decode=decode,
        decode_context_tokens=decode_context(wl),
        ideal_ttft_s=float(p.ttft(wl.batch, p.hw_ideal)),
        ideal_tpot_s=float(p.tpot(wl.batch, p.hw_ideal)),
        batch_table=tuple(table),
        request_overhead_s=float(p.hw[L.H_REQUEST_OVERHEAD]),
        context_tokens=int(model.max_position_embeddings),
        engine=p.engine.name,
        kernel_overhead_s=float(p.hw[L.H_KERNEL_OVERHEAD]),
        seq_overhead_s=float(p.hw[L.H_SEQ_OVERHEAD]),
    )


def phase_times(chip: Chip, model: Model, workload: Workload) -> dict[str, float]:
    """TTFT and TPOT, expected and ideal, for an explicit layout, without any memory check.

    For what-if studies and property tests; ``estimate_inference`` is the checked front door.
    """
    check_layout(chip, model, workload)
    wl = workload if workload.tp is not None else attrs.evolve(workload, tp=1)
    p = Packed(chip, model, wl)
    return {"ttft_s": float(p.ttft(wl.batch)), "tpot_s": float(p.tpot(wl.batch)),
            "ideal_ttft_s": float(p.ttft(wl.batch, p.hw_ideal)), "ideal_tpot_s": float(p.tpot(wl.batch, p.hw_ideal))}
