"""Pictures of the estimates (``roofline plot``): rooflines with operating points, decode against batch,
and time to train against the number of chips. Matplotlib comes with the ``plot`` extra.

Every figure is drawn from the probes of :mod:`roofline.analysis`, so a plot shows exactly what the
numbers say. Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global state) and
written atomically (:func:`roofline.render.files.atomic_write`) with fixed metadata, so the same command
writes the same file.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Sequence

import attrs
import numpy as np

from roofline.analysis.compare import DEFAULT_MAX_TPOT_S
from roofline.analysis.economics import plan_best, training_base, training_scaling
from roofline.checkpoint import on_chip
from roofline.serving.inflight import closed_form_serving
from roofline.analysis.probes import batch_curve, decode_point, largest_batch_within, prefill_point, serving_layout
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.passes import Packed
from roofline.quantity import MAX_COUNT, show
from roofline.render.files import atomic_write
from roofline.serving.static import estimate_inference
from roofline.training.estimate import step_intensity
from roofline.workload import Workload, valid_tp_sizes
KINDS = ("roofline", "batch", "scaling")
FORMATS = ("png", "svg")
#: Chip counts of the scaling plot by default: powers of two.
DEFAULT_COUNTS = tuple(2 ** k for k in range(4, 15))
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f")


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise RooflineError("plot: matplotlib is not installed; pip install 'roofline[plot]' "
                            "(or pip install matplotlib)") from None
    return Figure(figsize=(width, height), layout="constrained")


def check_output(path: str | Path) -> tuple[Path, str]:
    """The output path and its format (png or svg); the project error for another suffix or a missing folder."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RooflineError(f"output={str(path)!r}: unknown image format {out.suffix or '(none)'!r}; "
                            f"end the file name in .png or .svg")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise RooflineError(f"output={str(path)!r}: folder {str(folder)!r} does not exist; create it first")
    if out.is_dir():
        raise RooflineError(f"output={str(path)!r} is a folder; give a file name ending in .png or .svg")
    return out, fmt


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` (.png or .svg) atomically, with reproducible metadata: a failure midway
    leaves the old file (or none) and no temporary file, and is re-raised (an ``OSError`` such as a full
    disk becomes one line in the CLI)."""
    from matplotlib import rc_context

    out, fmt = check_output(path)
    meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}

    def write(f) -> None:
        with rc_context({"svg.hashsalt": "roofline", "svg.fonttype": "none"}):
            fig.savefig(f, format=fmt, dpi=150, metadata=meta)

    atomic_write(out, write, binary=True)
    return out


def _load(chips: Sequence[Chip | str], model: Model | str) -> tuple[list[Chip], Model]:
    if not chips:
        raise RooflineError("chips: no chips to plot; give at least one, e.g. H20,H100")
    return ([c if isinstance(c, Chip) else load_chip(c) for c in chips],
            model if isinstance(model, Model) else load_model(model))


# ---- roofline ---------------------------------------------------------------------------------------

def roofline_figure(chips: Sequence[Chip | str], model: Model | str, workload: Workload | None = None, *,
                    tp: int | None = None, num_chips: int = 1024, tokens: float | None = None,
                    use_numba: bool | None = False):
    """One panel per chip: the compute ceiling of each dtype, the HBM slope and the scale-up link slope
    (FLOP/s per chip against FLOP per byte), with the workload's operating points at their arithmetic
    intensity and expected FLOP/s: prefill (batch 1) and decode from batch 1 to the largest batch that
    fits, at ``tp`` (default: the largest TP every chip's domain allows), and a training step (planner's
    best layout on ``num_chips``)."""
    cs, m = _load(chips, model)
    tp = tp or common_tp(cs, m)
    wl = attrs.evolve(workload or Workload(), batch=1, tp=tp)
    fig = _figure(5.2 * len(cs) + 0.6, 5.0)
    axes = fig.subplots(1, len(cs), sharey=True, squeeze=False)[0]
    x = np.geomspace(0.1, 1e5, 200)
    for ax, chip in zip(axes, cs):
        dtype = wl.compute_dtype if chip.has(wl.compute_dtype) else chip.half_dtype
        bw = chip.hbm_bytes_per_s
        ceilings: dict[float, list[str]] = {}
        for d, peak in chip.peak_flops_per_s:
            ceilings.setdefault(peak, []).append(d)
        for peak, names in sorted(ceilings.items()):
            main = dtype in names
            label = f"{'/'.join(names)} dense ceiling {peak / 1e12:,.0f} TFLOP/s"
            ax.plot(x, np.minimum(bw * x, peak) / 1e12, color="black" if main else "grey",
                    lw=2.0 if main else 1.0, ls="-" if main else "--",
                    label=f"HBM slope {bw / 1e12:.2f} TB/s, {label} (in use)" if main else label)
        ax.plot(x, chip.scale_up_bytes_per_s * x / 1e12, color="tab:purple", ls=":", lw=1.5,
                label=f"scale-up link slope {chip.scale_up_bytes_per_s / 1e9:,.0f} GB/s (x: FLOP per link byte)")
        ci = chip.critical_intensity(dtype)
        ax.axvline(ci, color="black", ls=":", lw=0.8)
        ax.annotate(f"critical\n{ci:,.0f} FLOP/B", (ci, chip.peak(dtype) / 1e12 * 1.15), ha="center", fontsize=8)
        title = f"{chip.name}: HBM {bw / 1e12:.2f} TB/s, {dtype} {chip.peak(dtype) / 1e12:,.0f} TFLOP/s"
        try:
            cwl = on_chip(wl, m, chip)
            cwl = cwl if chip.has(cwl.compute_dtype) else attrs.evolve(cwl, weight_dtype=dtype)
            try:
                inf = estimate_inference(chip, m, serving_layout(chip, m, cwl, tp))
            except RooflineError:  # does not fit at the common TP: the fewest chips that hold it
                inf = estimate_inference(chip, m, serving_layout(chip, m, cwl))
            p = Packed(chip, m, inf.workload)
            pre = prefill_point(p, 1)
            ax.scatter([pre["intensity"]], [pre["flops"] / pre["ttft_s"] / 1e12], marker="s", s=60, color="tab:orange",
                       zorder=5, label=f"prefill, batch 1 ({pre['bound']}-bound)")
            mb = max(1, inf.max_batch)
            batches = sorted({int(round(b)) for b in np.geomspace(1, mb, num=8)} | {1, mb})
            pts = [decode_point(p, b) for b in batches]
            ax.plot([q["intensity"] for q in pts], [q["flops"] / q["tpot_s"] / 1e12 for q in pts], "-o",
                    color="tab:blue", ms=4, zorder=5, label=f"decode, batch 1 to {mb:,} ({_layout(inf.workload)})")
            for q in (pts[0], pts[-1]):
                ax.annotate(f"b={q['batch']:,}", (q["intensity"], q["flops"] / q["tpot_s"] / 1e12),
                            textcoords="offset points", xytext=(6, -10), fontsize=8, color="tab:blue")
            title += f", serving {_layout(inf.workload)}"
        except RooflineError as exc:
            ax.plot([], [], " ", label=f"no serving point: {str(exc)[:60]}...")
        try:
            train = plan_best(chip, m, training_base(chip, num_chips, tokens), use_numba)
            ax.scatter([step_intensity(chip, m, train)], [train.hardware_flops_per_chip / train.step_time_s / 1e12],
                       marker="*", s=160, color="tab:green", zorder=6,
                       label=f"training step ({num_chips:,} chips, TP {train.workload.tp} x PP {train.workload.pp})")
        except RooflineError:
            pass
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(0.3, 1e5)
        ax.set_ylim(0.5, max(v for _, v in chip.peak_flops_per_s) / 1e12 * 2.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("arithmetic intensity (FLOP per byte of HBM traffic)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("FLOP/s per chip (TFLOP/s)")
    fig.suptitle(f"Roofline: {m.name}, {wl.input_len} in / {wl.output_len} out, {wl.weight_dtype} weights "
                 f"(points: expected FLOP/s per chip)")
    return fig


# ---- batch ------------------------------------------------------------------------------------------

def _layout(wl: Workload) -> str:
    return f"TP {wl.tp}" + (f" x PP {wl.pp}" if wl.pp > 1 else "")


def common_tp(chips: Sequence[Chip], model: Model) -> int:
    """The largest TP valid on every chip's scale-up domain."""
    return min(valid_tp_sizes(model, limit=c.scale_up_domain)[-1] for c in chips)


def batch_figure(chips: Sequence[Chip | str], model: Model | str, workload: Workload | None = None, *,
                 tp: int | None = None, max_tpot_s: float = DEFAULT_MAX_TPOT_S, engine: str = "generic",
                 concurrency: int | None = None):
    """Output tokens/s per chip (left) and TPOT (right) of static decode steps against the batch, the chips
    side by side at one TP (default: the largest every chip's domain allows), marking where decode turns
    compute-bound and where the memory runs out (the largest batch that fits); with ``concurrency``, the
    in-flight ``engine`` serving that many users (closed loop, prefill steps included) as a star."""
    cs, m = _load(chips, model)
    wl = attrs.evolve(workload or Workload(), batch=1, tp=None)
    tp = tp or common_tp(cs, m)
    fig = _figure(12.0, 5.0)
    left, right = fig.subplots(1, 2)
    errors = []
    for i, chip in enumerate(cs):
        color = COLORS[i % len(COLORS)]
        cwl, name = wl, chip.name
        if not chip.has(wl.compute_dtype):
            cwl = attrs.evolve(wl, weight_dtype=chip.half_dtype)
            name = f"{chip.name} ({cwl.weight_dtype}: no {wl.compute_dtype})"
        try:
            curve = batch_curve(chip, m, cwl, points=48, tp=tp)
        except RooflineError as exc:
            errors.append(str(exc))
            left.plot([], [], " ", label=f"{chip.name}: {str(exc)[:70]}...")
            continue
        pts = curve["points"]
        b = [q["batch"] for q in pts]
        if curve["pp"] > 1:
            name += f" (PP {curve['pp']})"
        left.plot(b, [q["tokens_per_s_per_chip"] for q in pts], "-", color=color, lw=2, label=name)
        right.plot(b, [q["tpot_s"] * 1e3 for q in pts], "-", color=color, lw=2, label=name)
        last = pts[-1]
        for ax, y in ((left, last["tokens_per_s_per_chip"]), (right, last["tpot_s"] * 1e3)):
            ax.plot([last["batch"]], [y], "X", color=color, ms=10,
                    label=f"{chip.name}: memory full at batch {last['batch']:,}")
        packed = Packed(chip, m, attrs.evolve(cwl, tp=tp, pp=curve["pp"]))
        within = largest_batch_within(packed, max_tpot_s)
        if within is not None and within < last["batch"]:
            q = decode_point(packed, within)
            left.plot([within], [q["tokens_per_s_per_chip"]], "o", color=color, ms=8, mfc="white", mew=2,
                      label=f"{chip.name}: TPOT budget reached at batch {within:,}")
            right.plot([within], [q["tpot_s"] * 1e3], "o", color=color, ms=8, mfc="white", mew=2)
        if concurrency is not None:
            try:
                srv = closed_form_serving(chip, m, attrs.evolve(cwl, tp=tp, pp=curve["pp"]), engine=engine,
                                          concurrency=concurrency)
            except RooflineError as exc:
                errors.append(str(exc))
            else:
                left.plot([concurrency], [srv.output_tokens_per_s / srv.num_chips], "*", color=color, ms=13,
                          label=f"{chip.name}: {engine} engine, {concurrency:,} users (in-flight)")
                right.plot([concurrency], [srv.tpot_s * 1e3], "*", color=color, ms=13)
        turn = curve["compute_bound_batch"]
        if turn is not None and turn <= last["batch"]:
            q = decode_point(packed, turn)
            left.plot([turn], [q["tokens_per_s_per_chip"]], "D", color=color, ms=8, mfc="white", mew=2,
                      label=f"{chip.name}: compute-bound from batch {turn:,}")
            right.plot([turn], [q["tpot_s"] * 1e3], "D", color=color, ms=8, mfc="white", mew=2)
        else:
            where = "never" if turn is None else f"only beyond memory (batch {turn:,})"
            left.plot([], [], " ", label=f"{chip.name}: compute-bound {where}")
    if len(errors) == len(cs):
        raise RooflineError(f"plot batch: no chip can serve {m.name} at tp={tp}: {errors[0]}")
    right.axhline(max_tpot_s * 1e3, color="black", ls="--", lw=1, label=f"TPOT budget {max_tpot_s * 1e3:g} ms")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch (sequences in flight per replica)")
        ax.grid(True, which="both", alpha=0.25)
    left.set_ylabel("output tokens/s per chip")
    right.set_ylabel("TPOT, time per output token (ms)")
    left.set_title("Throughput: memory-bound, it grows with the batch; compute-bound, it flattens", fontsize=9)
    right.set_title("Latency: flat while weight reads dominate, rising with compute or KV reads", fontsize=9)
    left.legend(fontsize=7, loc="lower right")
    right.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Static decode against batch (lone batches): {m.name}, TP {tp}, {wl.input_len} in / "
                 f"{wl.output_len} out, "
                 f"{wl.weight_dtype} weights (expected)")
    return fig


# ---- scaling ----------------------------------------------------------------------------------------

def scaling_figure(chips: Sequence[Chip | str], model: Model | str, *, counts: Sequence[int] = DEFAULT_COUNTS,
                   tokens: float | None = None, use_numba: bool | None = False):
    """Time to train the token budget against the number of chips (planner's best layout at each count;
    counts where no layout fits are left out), with perfect scaling from the first point for reference."""
    cs, m = _load(chips, model)
    if not counts or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_COUNT for n in counts):
        raise RooflineError(f"counts=[{', '.join(show(n) for n in counts)}] must be whole numbers of chips from 1 to "
                            f"{MAX_COUNT:,}, such as 64,256,1024")
    fig = _figure(8.0, 5.5)
    ax = fig.subplots()
    budget = None
    missing = []
    for i, chip in enumerate(cs):
        color = COLORS[i % len(COLORS)]
        pts = training_scaling(chip, m, sorted(set(counts)), tokens, use_numba)
        if not pts:
            missing.append(chip.name)
            ax.plot([], [], " ", label=f"{chip.name}: no layout fits at these counts")
            continue
        budget = pts[0][1].workload.tokens
        n = np.array([c for c, _ in pts], dtype=float)
        days = np.array([e.time_to_train_s / 86400 for _, e in pts])
        ax.plot(n, days, "-o", color=color, lw=2, ms=5, label=chip.name)
        ax.plot(n, days[0] * n[0] / n, ":", color=color, lw=1, label=f"{chip.name}: perfect scaling")
        ax.annotate(f"{days[-1]:,.1f} d, MFU {pts[-1][1].mfu:.0%}", (n[-1], days[-1]), textcoords="offset points",
                    xytext=(-10, 8), ha="right", fontsize=8, color=color)
    if len(missing) == len(cs):
        raise RooflineError(f"plot scaling: {m.name} fits no training layout on {', '.join(missing)} at "
                            f"{', '.join(map(str, counts))} chips; give larger --counts")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("chips in the job")
    ax.set_ylabel("time to train (days)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8)
    label = "" if budget is None else f" {budget / 1e12:g}T tokens"
    ax.set_title(f"Time to train{label}: {m.name}, planner's best layout per count (expected)")
    return fig


def plot(kind: str, chips: Sequence[Chip | str], model: Model | str, output: str | Path, **options) -> Path:
    """Draw ``kind`` (roofline, batch or scaling) and write it to ``output`` (.png or .svg)."""
    if kind not in KINDS:
        raise RooflineError(f"kind={kind!r} is not one of {', '.join(KINDS)}; pick one of those")
    check_output(output)
    fig = {"roofline": roofline_figure, "batch": batch_figure, "scaling": scaling_figure}[kind](chips, model, **options)
    return save(fig, output)
