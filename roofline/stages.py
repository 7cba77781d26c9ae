"""Pipeline stages: how many layers each of ``pp`` stages holds (the split rule, and uneven first and last
stages as Megatron-LM's ``--decoder-first-pipeline-num-layers`` / ``--decoder-last-pipeline-num-layers``
set them)."""

from __future__ import annotations

from roofline.errors import RooflineError


def stage_split(num_layers: int, pp: int, first: int | None = None, last: int | None = None) -> tuple[int, int, int]:
    """(layers of the first stage, of each middle stage, of the last stage) of ``pp`` pipeline stages.

    The split rule, when neither end is given: ``pp`` dividing the layers gives every stage its share.
    Otherwise the middle stages hold ceil(L / pp) layers and the first and last stages the rest, the first
    the larger half (the last also holds the final norm and the LM head, the heavier end): Llama 3 405B's
    126 layers on 16 stages are 7 + 14 x 8 + 7, as Meta ran them. When the ends would hold nothing the
    middle stages hold floor(L / pp) instead. One end given: the other stages split the rest by the same
    rule; both given: the middle stages share the rest equally. Raises the project error for a split that
    leaves a stage without layers or the middle stages unequal."""
    if pp == 1:
        if first not in (None, num_layers) or last not in (None, num_layers):
            raise RooflineError("first_stage_layers / last_stage_layers need pipeline parallelism (pp > 1); drop them")
        return num_layers, 0, num_layers
    if pp > num_layers:
        raise RooflineError(f"pp={pp} exceeds the {num_layers} layers: every stage needs a layer; use --pp "
                            f"{num_layers} or less")
    if first is None and last is None:
        if num_layers % pp == 0:
            share = num_layers // pp
            return share, share, share
        middle = -(-num_layers // pp)
        ends = num_layers - (pp - 2) * middle
        if ends < 2:
            middle = num_layers // pp
            ends = num_layers - (pp - 2) * middle
        return ends - ends // 2, middle if pp > 2 else 0, ends // 2
    given = first if last is None else last
    if first is None or last is None:
        rest = num_layers - given
        if rest < pp - 1:
            name = "first_stage_layers" if last is None else "last_stage_layers"
            raise RooflineError(f"{name}={given} leaves {rest} layers for the other {pp - 1} stages; give at most "
                                f"{num_layers - pp + 1}")
        if pp == 2:
            other, middle = rest, 0
        else:
            middle = -(-rest // (pp - 1))
            if rest - (pp - 2) * middle < 1:
                middle = rest // (pp - 1)
            other = rest - (pp - 2) * middle
        return (given, middle, other) if last is None else (other, middle, given)
    rest = num_layers - first - last
    if pp == 2:
        if rest:
            raise RooflineError(f"first_stage_layers + last_stage_layers = {first + last} must be the {num_layers} "
                                f"layers with pp=2; fix one")
        return first, 0, last
    if rest < pp - 2 or rest % (pp - 2):
        raise RooflineError(f"first_stage_layers={first} and last_stage_layers={last} leave {rest} layers, which do "
                            f"not split equally over the {pp - 2} middle stages; change one of them")
    return first, rest // (pp - 2), last


def uneven(num_layers: int, pp: int, first: int | None = None, last: int | None = None) -> bool:
    """True when the stages of this split do not all hold the same number of layers."""
    f, middle, l_ = stage_split(num_layers, pp, first, last)
    return pp > 1 and not f == l_ == (middle if pp > 2 else f)


def chunks_of(num_layers: int, pp: int, first: int | None = None, last: int | None = None) -> int:
    """Layers every virtual stage chunk count must divide for interleaving: the middle stages' layers (uneven
    ends may hold a chunk fewer, as in Meta's Llama 3 schedule), or every stage's when they are even."""
    f, middle, l_ = stage_split(num_layers, pp, first, last)
    if pp > 2 and (f != middle or l_ != middle):
        return middle
    return f if f == l_ else 1

