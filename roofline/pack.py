"""The one boundary between values and vectors: frozen inputs packed into the float64 vectors kernels read.

Every index belongs to :mod:`roofline.kernels.layout`; no other module writes a kernel input vector. The
functions read their values by attribute only (a ``Model``, ``Chip``, ``Efficiency``, ``Workload``,
``TrainingWorkload`` or ``Engine``), so this module sits below the values and the values can price
themselves through the kernels (``Model.param_count``).
"""

from __future__ import annotations

import numpy as np

from roofline.dtypes import BYTES
from roofline.kernels import layout as L
from roofline.stages import stage_split, uneven


def pack_model(model) -> np.ndarray:
    """The ``M_*`` vector of a ``Model``."""
    m = np.zeros(L.M_SIZE)
    m[L.M_LAYERS] = model.num_layers
    m[L.M_HIDDEN] = model.hidden_size
    m[L.M_HEADS] = model.num_heads
    m[L.M_KV_HEADS] = model.num_kv_heads
    m[L.M_HEAD_DIM] = model.head_dim
    m[L.M_FFN] = model.intermediate_size
    m[L.M_VOCAB] = model.vocab_size
    m[L.M_GATED] = float(model.gated_mlp)
    m[L.M_QKV_BIAS] = float(model.qkv_bias)
    m[L.M_O_BIAS] = float(model.o_bias)
    m[L.M_MLP_BIAS] = float(model.mlp_bias)
    m[L.M_NORM_PARAMS] = model.norm_params
    m[L.M_TIED] = float(model.tie_word_embeddings)
    m[L.M_POS_ROWS] = model.learned_pos_embeddings
    m[L.M_WINDOW] = model.sliding_window
    m[L.M_QK_NORM] = float(model.qk_norm)
    m[L.M_ATTN_LAYERS] = model.attention_layers
    m[L.M_SWA_LAYERS] = model.swa_layers
    m[L.M_MLP_LAYERS] = model.mlp_layers
    m[L.M_SINKS] = float(model.attention_sinks)
    m[L.M_OUT_GATE] = float(model.attn_output_gate)
    m[L.M_SANDWICH] = float(model.sandwich_norms)
    m[L.M_CHUNKED] = float(model.attention_chunked)
    kept = BYTES[model.mixer_dtype] if model.mixer_dtype else 0.0  # mixer_dtype beside attention_16bit: recurrent
    m[L.M_ATTN_BYTES] = 2.0 if model.attention_16bit else kept
    m[L.M_REC_BYTES] = kept if kept else 2.0 if model.attention_16bit else 0.0
    m[L.M_HEAD_BYTES] = BYTES[model.head_dtype] if model.head_dtype else 0.0
    if model.sparse_top_k:
        m[L.M_SPARSE_TOPK] = model.sparse_top_k
        m[L.M_IDX_HEADS] = model.indexer_heads
        m[L.M_IDX_DIM] = model.indexer_head_dim
    if model.linear_layers:
        m[L.M_REC_KIND] = 1.0
        m[L.M_REC_LAYERS] = model.linear_layers
        m[L.M_REC_K_HEADS] = model.linear_key_heads
        m[L.M_REC_V_HEADS] = model.linear_value_heads
        m[L.M_REC_K_DIM] = model.linear_key_head_dim
        m[L.M_REC_V_DIM] = model.linear_value_head_dim
        m[L.M_REC_CONV] = model.linear_conv_kernel
    elif model.mamba_layers:
        m[L.M_REC_KIND] = 2.0
        m[L.M_REC_LAYERS] = model.mamba_layers
        m[L.M_REC_K_HEADS] = model.mamba_groups
        m[L.M_REC_V_HEADS] = model.mamba_heads
        m[L.M_REC_K_DIM] = model.mamba_state_size
        m[L.M_REC_V_DIM] = model.mamba_head_dim
        m[L.M_REC_CONV] = model.mamba_conv_kernel
    if model.is_moe:
        m[L.M_EXPERTS] = model.num_experts
        m[L.M_TOPK] = model.experts_per_token
        m[L.M_MOE_FFN] = model.moe_intermediate_size
        m[L.M_MOE_LATENT] = model.moe_latent_size
        m[L.M_SHARED_FFN] = model.shared_width
        m[L.M_MOE_LAYERS] = model.moe_layers
        m[L.M_MOE_FRAC] = model.moe_layers / model.num_layers
        m[L.M_ROUTER_BIAS] = float(model.router_bias)
        m[L.M_SHARED_GATE] = float(model.shared_expert_gate)
    if model.is_mla:
        m[L.M_KV_LORA] = model.kv_lora_rank
        m[L.M_Q_LORA] = model.q_lora_rank
        m[L.M_ROPE_DIM] = model.qk_rope_head_dim
        m[L.M_NOPE_DIM] = model.qk_nope_head_dim
        m[L.M_V_DIM] = model.v_head_dim
    return m


def replica_batch(wl, batch: int | None = None) -> int:
    """Sequences of one attention group for ``batch`` sequences on the replica (``wl.batch`` by default):
    with data-parallel attention each of the ``wl.attn_dp`` groups runs its share, rounded up."""
    return -(-(wl.batch if batch is None else batch) // wl.attn_dp)


def pack_workload(wl, max_tokens_per_pass: int, batch: int | None = None) -> np.ndarray:
    """The ``W_*`` vector of a serving ``Workload`` (``batch`` sequences on the replica, default its own)."""
    w = np.zeros(L.W_SIZE)
    w[L.W_BATCH] = replica_batch(wl, batch)
    w[L.W_INPUT] = wl.input_len
    w[L.W_OUTPUT] = wl.output_len
    w[L.W_TP] = wl.tp or 1
    w[L.W_PP] = wl.pp
    w[L.W_WEIGHT_BYTES] = BYTES[wl.weight_dtype]
    w[L.W_KV_BYTES] = BYTES[wl.kv]
    w[L.W_ACT_BYTES] = BYTES[wl.act_dtype]
    w[L.W_MAX_TOKENS] = max_tokens_per_pass
    w[L.W_EP] = wl.ep
    w[L.W_DRAFT] = wl.draft_tokens
    w[L.W_ACCEPT] = wl.accept
    w[L.W_ATTN_DP] = wl.attn_dp
    return w


def pack_hardware(chip, compute_dtype: str, eff, serving: bool = False, engine=None,
                  attention_dtype: str | None = None) -> np.ndarray:
    """The ``H_*`` vector: chip peaks and efficiency. ``serving``: the fractions serving steps sustain
    (``eff.serving_*``: the GEMM fraction scaled by the sustained fraction, attention at its own fraction of
    its peak, the routed experts at their share); otherwise the microbenchmark fractions. Attention's peak
    is the ``attention_dtype`` one (default: the 16-bit peak). An ``engine`` adds its fixed costs (per step,
    per kernel, per sequence per step, per request) and the all-reduces its own kernels run."""
    hw = np.zeros(L.H_SIZE)
    hw[L.H_PEAK_FLOPS] = chip.peak(compute_dtype)
    hw[L.H_ATTN_PEAK] = chip.peak(attention_dtype or chip.half_dtype)
    hw[L.H_HBM_BW] = chip.hbm_bytes_per_s
    hw[L.H_HBM_BYTES] = chip.hbm_bytes
    hw[L.H_UP_BW] = chip.scale_up_bytes_per_s
    hw[L.H_UP_DOMAIN] = chip.scale_up_domain
    hw[L.H_OUT_BW] = chip.scale_out_bytes_per_s
    hw[L.H_EFF_COMPUTE] = eff.gemm_fraction * (eff.serving_sustained_fraction if serving else 1.0)
    hw[L.H_EFF_HBM] = eff.hbm_fraction
    hw[L.H_ATTN_EFF] = eff.serving_attention_fraction if serving else 0.0
    hw[L.H_EXPERT_EFF] = eff.serving_expert_fraction if serving else 1.0
    hw[L.H_EFF_UP] = eff.scale_up_fraction
    hw[L.H_EFF_OUT] = eff.scale_out_fraction
    hw[L.H_LAT_BASE] = eff.collective_base_latency_s
    hw[L.H_LAT_UP] = eff.scale_up_hop_latency_s
    hw[L.H_LAT_OUT] = eff.scale_out_hop_latency_s
    hw[L.H_MEM_FRACTION] = eff.usable_memory_fraction
    hw[L.H_STEP_OVERHEAD] = eff.step_overhead_s + (engine.step_overhead_s if engine else 0.0)
    hw[L.H_KERNEL_OVERHEAD] = eff.kernel_overhead_s + (engine.kernel_overhead_s if engine else 0.0)
    hw[L.H_SEQ_OVERHEAD] = engine.seq_overhead_s if engine else 0.0
    hw[L.H_REQUEST_OVERHEAD] = engine.request_overhead_s if engine else 0.0
    hw[L.H_P2P_REDUCE_BYTES] = engine.p2p_allreduce_max_bytes if engine else 0.0
    hw[L.H_LL128_BASE], hw[L.H_LL128_UP], hw[L.H_LL128_OUT] = eff.ll128_latency_s
    hw[L.H_SIMPLE_BASE], hw[L.H_SIMPLE_UP], hw[L.H_SIMPLE_OUT] = eff.simple_latency_s
    return hw


def pack_engine(engine, max_num_tokens: int | None = None) -> np.ndarray:
    """The ``E_*`` vector of an ``Engine``'s policy, with this token budget (default: the engine's)."""
    e = np.zeros(L.E_SIZE)
    e[L.E_BUDGET] = max_num_tokens or engine.max_num_tokens
    e[L.E_CHUNKED] = float(engine.chunked)
    e[L.E_MEMORY_FRACTION] = engine.memory_fraction
    e[L.E_FREE_RULE] = float(engine.memory_rule == "free")
    e[L.E_RESERVE_FULL] = float(engine.reserve_full)
    e[L.E_MAX_SEQS] = engine.max_seqs
    e[L.E_PREFILL_FIRST] = float(engine.prefill_first)
    return e


def pack_training_extras(chip, eff, eff16, state) -> np.ndarray:
    """The ``X_*`` vector: the 16-bit peak attention runs at, the training efficiencies (``eff`` of the
    matmul dtype, ``eff16`` of the 16-bit one) and the mixed-precision state convention ``state``."""
    x = np.zeros(L.X_SIZE)
    x[L.X_ATTN_PEAK] = chip.peak(chip.half_dtype)
    x[L.X_ATTN_EFF] = eff.training_attention_fraction
    x[L.X_SUSTAINED] = eff.training_sustained_fraction
    x[L.X_STEP_OVERHEAD] = eff.training_step_overhead_s
    x[L.X_MEM_FRACTION] = eff.training_usable_fraction
    x[L.X_GEMM16_EFF] = eff16.gemm_fraction
    x[L.X_PARAM_BYTES] = state.param_bytes
    x[L.X_GRAD_BYTES] = state.grad_bytes
    x[L.X_OPT_BYTES] = state.optimizer_bytes
    x[L.X_REDUCE_BYTES] = state.reduce_bytes
    x[L.X_OPT_TRAFFIC] = state.optimizer_traffic_bytes
    return x


def pack_layout(wl, num_layers: int) -> np.ndarray:
    """The ``T_*`` vector of a complete ``TrainingWorkload`` of a model of ``num_layers`` layers (uneven
    pipeline stages by :func:`roofline.workload.stage_split`)."""
    t = np.zeros(L.T_SIZE)
    given = wl.first_stage_layers is not None or wl.last_stage_layers is not None
    if (num_layers % wl.pp or given) and uneven(num_layers, wl.pp, wl.first_stage_layers, wl.last_stage_layers):
        t[L.T_FIRST], _, t[L.T_LAST] = stage_split(num_layers, wl.pp, wl.first_stage_layers, wl.last_stage_layers)
    t[L.T_TP], t[L.T_PP], t[L.T_DP], t[L.T_CP] = wl.tp, wl.pp, wl.dp, wl.cp
    t[L.T_MB], t[L.T_GB], t[L.T_SEQ] = wl.micro_batch, wl.batch(), wl.seq_len
    t[L.T_RECOMPUTE] = L.RECOMPUTE_MODES.index(wl.recompute)
    t[L.T_ZERO], t[L.T_VPP] = wl.zero, wl.virtual_pp
    t[L.T_SP] = float(wl.sp)
    t[L.T_FLASH] = float(wl.flash_attention)
    t[L.T_MM_BYTES] = 1.0 if wl.dtype == "fp8" else 2.0
    t[L.T_EP] = wl.ep or 1
    t[L.T_DROPOUT] = float(wl.dropout)
    t[L.T_CP_COMM] = L.CP_COMM_TYPES.index(wl.cp_comm_type)
    t[L.T_EAGER] = L.KERNEL_MODES.index(wl.kernels)
    return t


def pack_layout_choices(wl, num_layers: int, choices: list[tuple], layout_of) -> np.ndarray:
    """The T_* rows of the layouts ``choices`` (tuples ``(tp, cp, pp, dp, micro_batch, global_batch, recompute,
    zero, virtual_pp, ep)``, the planner's), exactly as :func:`pack_layout` packs ``layout_of(wl, choice)``:
    one packed template per TP and stage count, the other choices set in place (no workload built per row)."""
    if not choices:
        return np.empty((0, L.T_SIZE))
    index: dict[tuple, int] = {}  # (tp, pp) -> template row
    templates = []
    rows = []
    for c in choices:
        key = (c[0], c[2])
        if key not in index:
            index[key] = len(templates)
            templates.append(pack_layout(layout_of(wl, c), num_layers))
        rows.append(index[key])
    out = np.array(templates)[rows]
    cols = np.array([(cp, dp, mb, gb, L.RECOMPUTE_MODES.index(rec), zero, v, e or 1)
                     for _, cp, _, dp, mb, gb, rec, zero, v, e in choices], dtype=np.float64)
    for j, field in enumerate((L.T_CP, L.T_DP, L.T_MB, L.T_GB, L.T_RECOMPUTE, L.T_ZERO, L.T_VPP, L.T_EP)):
        out[:, field] = cols[:, j]
    return out


def pack_group(model_row: int, hardware_row: int, key: int, wl) -> np.ndarray:
    """One ``G_*`` row of a sweep's group table: where its model and hardware vectors are, its reduction
    key, the chips of one replica of ``wl`` and its data-parallel attention groups."""
    g = np.zeros(L.G_SIZE)
    g[L.G_MODEL] = model_row
    g[L.G_HW] = hardware_row
    g[L.G_KEY] = key
    g[L.G_CHIPS] = wl.num_chips
    g[L.G_ATTN_DP] = wl.attn_dp
    return g


def pack_limits(max_tpot_s: float | None, max_ttft_s: float | None, reduce: str | None) -> np.ndarray:
    """The ``L_*`` vector of a sweep: latency limits (``inf`` for none) and the reduction kept."""
    limits = np.zeros(L.L_SIZE)
    limits[L.L_MAX_TPOT] = np.inf if max_tpot_s is None else max_tpot_s
    limits[L.L_MAX_TTFT] = np.inf if max_ttft_s is None else max_ttft_s
    limits[L.L_BEST] = 1.0 if reduce == "best" else 0.0
    limits[L.L_PARETO] = 1.0 if reduce == "pareto" else 0.0
    return limits
