"""Serving as benchmarks measure it: one replica simulated step by step under a benchmark client.

The client (:class:`Client`) is a closed loop of C users (``concurrency``: each user sends its next request
the moment the previous one completes, all C starting together, as ``vllm bench serve --max-concurrency``,
SGLang's ``bench_serving`` and genai-perf do) or an open loop of Poisson arrivals (``request_rate``). It sends
``num_requests`` requests (default: :func:`default_requests`); their prompt and output lengths are the
workload's, or drawn uniformly within ``random_range_ratio`` of them (as vLLM's random dataset:
[L (1 - r), L (1 + r)]), from ``seed``. Statistics are over every request, as those benchmarks report them:
no warm-up is left out.

The engine is :mod:`roofline.kernels.simulate` (the model stated there), compiled with numba when it is
installed (a single estimate with a cold cache compiles it once, about half a minute), else plain Python.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from roofline._jit import choose
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.serving import engine_kv_capacity, engine_kv_tokens
from roofline.kernels.simulate import simulate
from roofline.pack import pack_engine
from roofline.passes import Packed
from roofline.quantity import MAX_COUNT, show
from roofline.results.inference import ServingEstimate

#: Requests a closed-loop benchmark sends by default: this many per user, and at least MIN_REQUESTS.
REQUESTS_PER_USER = 10
MIN_REQUESTS = 100
#: Work (scheduling rounds plus the running sequences each visits) a simulation may do in plain Python before
#: the compiled kernel takes over: about 0.2 s on a 2-core laptop; most single estimates stay within it and
#: never load the compiler.
PLAIN_WORK = 40_000
#: Requests an open-loop benchmark sends by default.
OPEN_LOOP_REQUESTS = 1000
#: The most requests one simulation takes (its arrays take about 100 bytes per request).
MAX_REQUESTS = 1_000_000
#: The slowest Poisson client simulated, requests/s (one a week and a half).
MIN_REQUEST_RATE = 1e-6


def run_budgeted(kernel, call, use_numba: bool | None):
    """``(result, compiled)`` of ``call(fn, max_work) -> (result, stopped)``, a simulation by kernel ``fn``.

    ``use_numba`` None runs plain Python up to ``PLAIN_WORK`` (most single estimates: no compiler to load)
    and, when the simulation stopped there, runs it again compiled (:func:`roofline._jit.choose` warns
    :class:`~roofline.errors.CompilingNotice` when the kernel must be compiled first); True or False runs
    compiled or plain Python at once. Both give the same result."""
    if use_numba is None:
        result, stopped = call(kernel, PLAIN_WORK)
        if not stopped:
            return result, False
    fn, compiled = choose(kernel, use_numba)
    return call(fn, 0.0)[0], compiled


def default_requests(concurrency: int | None) -> int:
    """Requests sent when none are asked for: 10 per user of a closed loop (at least 100, at most
    MAX_REQUESTS), so that the start, when every user sends at once, weighs as it does in a benchmark of
    that length; 1,000 in an open loop (``vllm bench serve``'s default number of prompts)."""
    if concurrency is None:
        return OPEN_LOOP_REQUESTS
    return min(max(MIN_REQUESTS, REQUESTS_PER_USER * concurrency), MAX_REQUESTS)


def _whole(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and 1 <= value <= MAX_COUNT


@attrs.frozen
class Client:
    """A benchmark client: a closed loop of ``concurrency`` users, or Poisson arrivals at ``request_rate``
    requests/s; ``num_requests`` requests (None: :func:`default_requests`), lengths drawn within
    ``random_range_ratio`` of the workload's (0: fixed), from ``seed``."""

    concurrency: int | None = None
    request_rate: float | None = None
    num_requests: int | None = None
    seed: int = 0
    random_range_ratio: float = 0.0

    def __attrs_post_init__(self):
        if (self.concurrency is None) == (self.request_rate is None):
            raise RooflineError("client: give a concurrency (closed loop) or a request rate (open loop), one of "
                                "the two")
        if self.concurrency is not None and (not _whole(self.concurrency) or self.concurrency > MAX_REQUESTS):
            raise RooflineError(f"concurrency={show(self.concurrency)} must be a whole number from 1 to "
                                f"{MAX_REQUESTS:,} (the most requests one simulation takes)")
        rate = self.request_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not MIN_REQUEST_RATE <= rate < 1e300):
            raise RooflineError(f"request_rate={show(rate)} must be a finite number of requests per second, at "
                                f"least {MIN_REQUEST_RATE:g}")
        if self.num_requests is not None and (not _whole(self.num_requests) or self.num_requests > MAX_REQUESTS):
            raise RooflineError(f"num_requests={show(self.num_requests)} must be a whole number from 1 to "
                                f"{MAX_REQUESTS:,}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise RooflineError(f"seed={show(self.seed)} must be a whole number from 0 to 2**63 - 1")
        r = self.random_range_ratio
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r < 1.0:
            raise RooflineError(f"random_range_ratio={show(r)} must be a number from 0 to below 1 (0: fixed lengths)")

    @property
    def requests(self) -> int:
        """Requests sent: ``num_requests``, else :func:`default_requests`."""
        return self.num_requests or default_requests(self.concurrency)


def _lengths(rng: np.random.Generator, length: int, ratio: float, n: int) -> np.ndarray:
    """``n`` lengths uniform in [L (1 - r), L (1 + r)] (whole tokens, at least 1), or ``length`` each."""
    if ratio <= 0.0:
        return np.full(n, float(length))
    low, high = max(1, int(length * (1.0 - ratio))), max(1, int(length * (1.0 + ratio)))
    return rng.integers(low, high + 1, size=n).astype(np.float64)


def _group_requests(client: Client, input_len: int, output_len: int, groups: int):
    """(arrival, prompt, output) of one attention group's share of the client's requests, and its users."""
    rng = np.random.default_rng(client.seed)
    n = max(1, -(-client.requests // groups))
    prompt = _lengths(rng, input_len, client.random_range_ratio, n)
    output = _lengths(rng, output_len, client.random_range_ratio, n)
    if client.concurrency is not None:
        users = max(1, -(-client.concurrency // groups))
        return np.zeros(n), prompt, output, min(users, n)
    gaps = rng.exponential(groups / client.request_rate, size=n)
    arrival = np.concatenate(([0.0], np.cumsum(gaps[:-1])))
    return arrival, prompt, output, 0


def client_requests(client: Client, input_len: int, output_len: int):
    """(arrival, prompt, output, users) of all the client's requests (one attention group's share with
    ``groups`` 1): what a simulation of a whole deployment takes."""
    return _group_requests(client, input_len, output_len, 1)


@attrs.frozen
class Run:
    """One simulation of one attention group: per-request times and the engine's figures."""

    send: np.ndarray = attrs.field(eq=False)
    first: np.ndarray = attrs.field(eq=False)
    finish: np.ndarray = attrs.field(eq=False)
    output: np.ndarray = attrs.field(eq=False)
    itl: np.ndarray = attrs.field(eq=False)
    figures: np.ndarray = attrs.field(eq=False)
    marks: tuple = attrs.field(eq=False)  # (at_send, at_first, at_finish): running sums of the steps' parts
    users: int
    compiled: bool


def _simulate(p: Packed, policy: np.ndarray, client: Client, spec: np.ndarray, fn) -> tuple:
    """One call of the simulation kernel ``fn`` on fresh arrays: (times, marks, itl, figures)."""
    arrival, prompt, output, _ = _group_requests(client, p.wl.input_len, p.wl.output_len, p.wl.attn_dp)
    n = len(prompt)
    times = (np.empty(n), np.empty(n), np.empty(n))
    marks = (np.zeros((n, L.P_SIZE)), np.zeros((n, L.P_SIZE)), np.zeros((n, L.P_SIZE)))
    state = (np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
             np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    itl = np.zeros(L.ITL_BINS)
    figures = np.zeros(L.Q_SIZE)
    fn(p.m, p.w(1), p.hw, policy, spec, (arrival, prompt, output), times, marks, state,
       np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), itl, figures)
    return times, marks, itl, figures, output


def run(p: Packed, client: Client, max_num_tokens: int | None = None, use_numba: bool | None = None) -> Run:
    """Simulate one attention group of the replica ``p`` (served by ``p.engine``) under ``client``; the
    project error when not one request's KV cache fits.

    ``use_numba`` None (the default) runs plain Python up to ``PLAIN_WORK`` (most single estimates: no
    compiler to load), and the numba-compiled kernel for longer simulations, warning
    with :class:`~roofline.errors.CompilingNotice` when it must be compiled first. Both give the same result.
    """
    engine = p.engine
    policy = pack_engine(engine, max_num_tokens)
    _, prompt, output, users = _group_requests(client, p.wl.input_len, p.wl.output_len, p.wl.attn_dp)
    spec = np.zeros(L.K_SIZE)
    spec[L.K_CONCURRENCY] = users
    spec[L.K_REQUESTS] = len(prompt)
    spec[L.K_CAPACITY] = engine_kv_tokens(p.m, p.w(1), p.hw, policy, np.zeros(L.W_SIZE))
    spec[L.K_MAX_SEQS] = engine.max_seqs if engine.max_seqs > 0 else len(prompt)

    def call(fn, max_work):
        spec[L.K_MAX_WORK] = max_work
        result = _simulate(p, policy, client, spec, fn)
        return result, result[3][L.Q_STATUS] == 2.0

    result, compiled = run_budgeted(simulate, call, use_numba)
    times, marks, itl, figures, output = result
    if figures[L.Q_STATUS] > 0.5:
        longest = int(max(prompt.max() + (output.max() if engine.reserve_full else 0.0), 1))
        raise RooflineError(f"serving: no KV cache fits one {longest}-token request of {p.model.name} on "
                            f"{p.chip.name} at tp={p.wl.tp}, pp={p.wl.pp} with the {engine.name} engine "
                            f"({int(spec[L.K_CAPACITY]):,} tokens of room); use a larger --tp or --pp")
    return Run(send=times[0], first=times[1], finish=times[2], output=output, itl=itl, figures=figures,
               marks=marks, users=users, compiled=compiled)


def _itl_percentile(hist: np.ndarray, q: float) -> float:
    """The ``q``-th percentile of the inter-token latencies in the histogram (bin centres, geometric)."""
    total = hist.sum()
    if total <= 0:
        return math.nan
    k = int(np.searchsorted(np.cumsum(hist), q / 100.0 * total))
    k = min(k, len(hist) - 1)
    width = (L.ITL_LOG_MAX - L.ITL_LOG_MIN) / L.ITL_BINS
    return 10.0 ** (L.ITL_LOG_MIN + (k + 0.5) * width)


def simulate_serving(p: Packed, client: Client, *, max_num_tokens: int | None = None,
                     max_ttft_s: float | None = None, max_tpot_s: float | None = None,
                     use_numba: bool | None = None) -> ServingEstimate:
    """The replica ``p`` (tp, pp, ep and lengths of its workload) served by its engine under ``client``:
    latency means and percentiles, throughput and goodput (requests/s meeting both ``max_ttft_s`` and
    ``max_tpot_s``) of the whole replica. The engine's cost per request (outside its steps: the API server
    on the way in and the first token's way out) is added to every TTFT and end-to-end latency; it runs
    beside the engine's steps and does not hold up the client's next request."""
    engine = p.engine
    r = run(p, client, max_num_tokens, use_numba)
    groups = p.wl.attn_dp
    ttft = r.first - r.send + engine.request_overhead_s
    e2e = r.finish - r.send + engine.request_overhead_s
    decoded = r.output > 1
    tpot = np.where(decoded, (r.finish - r.first) / np.maximum(r.output - 1.0, 1.0), 0.0)
    duration = float(r.finish.max() - r.send.min())
    n = len(ttft)
    rps = groups * n / duration
    ok = np.ones(n, dtype=bool)
    if max_ttft_s is not None:
        ok &= ttft <= max_ttft_s
    if max_tpot_s is not None:
        ok &= tpot <= max_tpot_s
    pct = {q: (float(np.percentile(ttft, q)), float(np.percentile(tpot[decoded], q)) if decoded.any() else 0.0)
           for q in (50, 90, 99)}
    policy = pack_engine(engine, max_num_tokens)
    cap = int(engine_kv_capacity(p.m, p.w(1), p.hw, policy, np.zeros(L.W_SIZE)))
    limit = "max_num_seqs" if 0 < policy[L.E_MAX_SEQS] <= cap else "kv_cache"
    figures = r.figures
    busy = float(figures[L.Q_BUSY])
    concurrency = client.concurrency if client.concurrency is not None else max(1, round(float(e2e.sum()) / duration))
    return ServingEstimate(
        engine=engine.name, concurrency=int(concurrency), inflight=int(min(concurrency, cap * groups)),
        kv_capacity_sequences=cap * groups, ttft_s=float(ttft.mean()),
        tpot_s=float(tpot[decoded].mean()) if decoded.any() else 0.0, request_latency_s=float(e2e.mean()),
        requests_per_s=rps, output_tokens_per_s=groups * float(r.output.sum()) / duration,
        num_chips=p.wl.num_chips, prefill_bound=bool(figures[L.Q_PREFILL_TIME] > 0.5 * busy),
        request_rate=None if client.request_rate is None else float(client.request_rate),
        utilization=None if client.request_rate is None else busy / duration,
        ttft_p50_s=pct[50][0], ttft_p90_s=pct[90][0], ttft_p99_s=pct[99][0], tpot_p50_s=pct[50][1],
        tpot_p90_s=pct[90][1], tpot_p99_s=pct[99][1], itl_p99_s=_itl_percentile(r.itl, 99.0),
        e2e_p50_s=float(np.percentile(e2e, 50)), e2e_p99_s=float(np.percentile(e2e, 99)),
        goodput_requests_per_s=groups * float(ok.sum()) / duration, num_requests=n * groups, seed=client.seed,
        preemptions=int(figures[L.Q_PREEMPTIONS]) * groups, compiled=r.compiled, capacity_limit=limit)
