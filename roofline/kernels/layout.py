"""Index constants of every float64 vector and table the kernels read and write, in one place.

Three inputs of every estimate: the model (``M_*``), the hardware with its efficiency (``H_*``) and the
serving workload with its parallel layout (``W_*``). Kernels fill an op table (``OP_*`` columns, one row
per op kind in ``OPS``). Serving adds an engine policy (``E_*``) and the steady state it returns
(``C_*``); training a layout (``T_*``), its precision extras (``X_*``) and its results (``R_*``); sweeps
a group table (``G_*``), the figures kept per configuration (``S_*`` static, ``V_*`` serving), the
records of a reduction (``REC_*``) and its limits (``L_*``).

:mod:`roofline.pack` is the only code that fills the input vectors from the frozen values.
"""

# ---- model -------------------------------------------------------------------------------------------
M_LAYERS = 0
M_HIDDEN = 1
M_HEADS = 2
M_KV_HEADS = 3
M_HEAD_DIM = 4
M_FFN = 5
M_VOCAB = 6
M_GATED = 7  # 1: gate+up+down, 0: up+down
M_QKV_BIAS = 8
M_O_BIAS = 9
M_MLP_BIAS = 10
M_NORM_PARAMS = 11  # parameters of one norm (h for RMSNorm, 2h for LayerNorm)
M_TIED = 12
M_POS_ROWS = 13  # learned absolute position rows (0 for rotary/ALiBi)
M_WINDOW = 14  # sliding window in tokens, 0 = full attention
# mixture of experts (0 when dense)
M_EXPERTS = 15  # routed experts per MoE layer
M_TOPK = 16  # routed experts per token
M_MOE_FFN = 17  # intermediate width of one routed expert
M_SHARED_FFN = 18  # total intermediate width of the always-on shared experts
M_MOE_FRAC = 19  # share of the layers that are MoE layers (the rest use the dense MLP of M_FFN)
M_ROUTER_BIAS = 20  # 1: the router has a bias per expert
# multi-head latent attention (0 when not MLA)
M_KV_LORA = 21  # latent KV width cached per token per layer (plus M_ROPE_DIM)
M_Q_LORA = 22  # query compression rank (0: no query compression)
M_ROPE_DIM = 23  # decoupled RoPE key width
M_NOPE_DIM = 24  # per-head query/key width without RoPE
M_V_DIM = 25  # per-head value width
M_QK_NORM = 26  # 1: an RMSNorm of head_dim on every query and key head (Qwen3)
M_SHARED_GATE = 27  # 1: a hidden -> 1 gate on the shared expert (Qwen2-MoE)
M_MOE_LAYERS = 28  # layers whose MLP is a mixture of experts (M_MOE_FRAC = M_MOE_LAYERS / M_LAYERS)
# the layer mix (``roofline.model`` docstring): how many of the M_LAYERS blocks have which token mixer and MLP
M_ATTN_LAYERS = 29  # blocks whose token mixer is softmax attention (full, sliding-window or sparse)
M_SWA_LAYERS = 30  # of those, the ones attending within the M_WINDOW sliding window
M_MLP_LAYERS = 31  # blocks with an MLP (dense or MoE); dense MLP blocks = M_MLP_LAYERS - M_MOE_LAYERS
M_SINKS = 32  # 1: a learned attention-sink logit per head per attention layer (gpt-oss)
M_OUT_GATE = 33  # 1: the query projection also computes a sigmoid gate of the attention output (Qwen3-Next)
M_SANDWICH = 34  # 1: four norms per block instead of two (Gemma 2/3: after attention and MLP too)
M_SPARSE_TOPK = 35  # sparse attention (DSA): keys each query of a full-attention layer attends to (0: dense)
M_IDX_HEADS = 36  # the lightning indexer's heads
M_IDX_DIM = 37  # the lightning indexer's head width (its key cached per token per layer)
M_REC_KIND = 38  # recurrent token mixer: 0 none, 1 Gated DeltaNet (linear attention), 2 Mamba-2
M_REC_LAYERS = 39  # blocks whose token mixer is the recurrent one
M_REC_K_HEADS = 40  # GDN: key heads; Mamba-2: B/C groups
M_REC_V_HEADS = 41  # GDN: value heads; Mamba-2: heads
M_REC_K_DIM = 42  # GDN: key head width; Mamba-2: state size
M_REC_V_DIM = 43  # GDN: value head width; Mamba-2: head width
M_REC_CONV = 44  # width of the causal depthwise convolution
M_ATTN_BYTES = 45  # bytes per weight 4-bit checkpoints keep the attention projections at (0: the weights')
M_CHUNKED = 46  # 1: the M_SWA_LAYERS attend within aligned chunks of M_WINDOW tokens (Llama 4), not a window
M_MOE_LATENT = 47  # width the routed experts work in (latent MoE, Nemotron 3); 0: M_HIDDEN
M_REC_BYTES = 48  # bytes per weight 4-bit checkpoints keep the recurrent mixers' projections at (0: the weights')
M_HEAD_BYTES = 49  # bytes per weight 4-bit checkpoints keep the LM head at (0: the activations': 16 bit)
M_SIZE = 50

# ---- hardware (chip x efficiency) --------------------------------------------------------------------
H_PEAK_FLOPS = 0  # dense FLOP/s of the compute dtype in use
H_HBM_BW = 1  # bytes/s
H_HBM_BYTES = 2
H_UP_BW = 3  # scale-up link, bytes/s per direction per chip
H_UP_DOMAIN = 4
H_OUT_BW = 5  # scale-out network, bytes/s per direction per chip
H_EFF_COMPUTE = 6  # achievable fraction of H_PEAK_FLOPS
H_EFF_HBM = 7
H_EFF_UP = 8
H_EFF_OUT = 9
H_LAT_BASE = 10  # seconds per collective
H_LAT_UP = 11  # seconds per ring step over the scale-up link
H_LAT_OUT = 12  # seconds per ring step over the network
H_MEM_FRACTION = 13  # share of HBM usable for weights + KV + workspace
H_STEP_OVERHEAD = 14  # fixed seconds per forward pass (scheduling, launches)
# NCCL protocols: H_LAT_* above are the LL protocol; LL128 and Simple have their own alpha terms
H_LL128_BASE = 15
H_LL128_UP = 16
H_LL128_OUT = 17
H_SIMPLE_BASE = 18
H_SIMPLE_UP = 19
H_SIMPLE_OUT = 20
H_KERNEL_OVERHEAD = 21  # fixed seconds per op occurrence (kernel launch and tail)
H_ATTN_PEAK = 22  # dense FLOP/s attention runs at: the 16-bit peak (0: H_PEAK_FLOPS)
H_ATTN_EFF = 23  # achievable fraction of H_ATTN_PEAK for attention (0: H_EFF_COMPUTE)
H_EXPERT_EFF = 24  # routed experts' ops reach this share of the GEMM and HBM fractions (0: 1)
H_SEQ_OVERHEAD = 25  # the serving engine's seconds per sequence per step (sampling, bookkeeping)
H_REQUEST_OVERHEAD = 26  # the serving engine's seconds per request outside its steps, added to TTFT
H_P2P_REDUCE_BYTES = 27  # the serving engine runs all-reduces under this many bytes with its own kernels (0: NCCL only)
H_SIZE = 28

# ---- workload and layout -----------------------------------------------------------------------------
W_BATCH = 0  # sequences in flight
W_INPUT = 1  # prompt tokens per sequence
W_OUTPUT = 2  # generated tokens per sequence
W_TP = 3
W_PP = 4
W_WEIGHT_BYTES = 5  # bytes per stored weight
W_KV_BYTES = 6  # bytes per cached K/V element
W_ACT_BYTES = 7  # bytes per activation element
W_MAX_TOKENS = 8  # tokens per forward pass the workspace is sized for
W_EP = 9  # expert-parallel size (experts spread over this many chips)
W_DRAFT = 10  # speculative tokens verified per sequence per decode step, beyond the first
W_ACCEPT = 11  # mean tokens emitted per sequence per decode step (1 without speculation)
W_ATTN_DP = 12  # data-parallel attention groups (1: none; ep / tp when ep > tp; Workload.dp_attention)
W_SIZE = 16

# ---- op table ----------------------------------------------------------------------------------------
OP_FLOPS = 0  # FLOPs per chip per occurrence
OP_HBM = 1  # HBM bytes per chip per occurrence
OP_LINK = 2  # bytes each chip sends per occurrence
OP_STEPS = 3  # latency-bearing steps of the collective (0: not a collective)
OP_SCALE_OUT = 4  # 1 when the collective crosses the scale-out network
OP_COUNT = 5  # occurrences in the pass (e.g. layers)
OP_ONE_SHOT = 6  # message bytes of an all-reduce of the serving engines' one-shot sizes (0: any other op)
OP_COLS = 7

OPS = (
    "embedding",
    "attn_norm",
    "qkv_proj",
    "attention",
    "o_proj",
    "tp_allreduce_attn",
    "mlp_norm",
    "mlp_up",
    "mlp_act",
    "mlp_down",
    "tp_allreduce_mlp",
    "final_norm",
    "lm_head",
    "tp_gather_logits",
    "pp_send",
    "moe_router",
    "moe_shared_up",
    "moe_shared_down",
    "moe_expert_up",
    "moe_expert_act",
    "moe_expert_down",
    "ep_dispatch",
    "ep_combine",
)
(OP_EMBED, OP_ATTN_NORM, OP_QKV, OP_ATTN, OP_O_PROJ, OP_AR_ATTN, OP_MLP_NORM, OP_MLP_UP, OP_MLP_ACT,
 OP_MLP_DOWN, OP_AR_MLP, OP_FINAL_NORM, OP_LM_HEAD, OP_GATHER_LOGITS, OP_PP_SEND, OP_ROUTER, OP_SHARED_UP,
 OP_SHARED_DOWN, OP_EXPERT_UP, OP_EXPERT_ACT, OP_EXPERT_DOWN, OP_EP_DISPATCH, OP_EP_COMBINE) = range(len(OPS))
N_OPS = len(OPS)

BOUND_COMPUTE = 0
BOUND_MEMORY = 1
BOUND_NETWORK = 2
BOUNDS = ("compute", "memory", "network")

# ---- an engine's scheduling and memory policy, packed (``pack.pack_engine``) -------------------------
E_BUDGET = 0  # tokens per engine step
E_CHUNKED = 1  # 1: chunked prefill
E_MEMORY_FRACTION = 2
E_FREE_RULE = 3  # 1: the fraction applies to what weights and workspace leave (TensorRT-LLM)
E_RESERVE_FULL = 4  # 1: a request reserves KV for input + output when admitted
E_MAX_SEQS = 5  # 0: no cap beyond memory
E_PREFILL_FIRST = 6  # 1: prompts run in their own steps, ahead of decodes (SGLang); 0: decodes and chunks mixed
E_SIZE = 7

# ---- the closed-loop steady state of a replica (``serving_closed_loop``) -----------------------------
C_TTFT = 0  # seconds to first token of an admitted request
C_TPOT = 1  # seconds per output token
C_RPS = 2  # requests per second
C_PREFILL_BOUND = 3  # 1 when prefill is the bottleneck
C_STEP = 4  # mean seconds per engine step
C_SIZE = 5

# ---- the step-level simulation of a replica (``kernels/simulate.py``) -----------------------------------
# client (``K_*``): how requests are sent
K_CONCURRENCY = 0  # closed loop: users keeping one request each in flight (0: open loop, by arrival times)
K_REQUESTS = 1  # requests sent in all
K_CAPACITY = 2  # KV-cache tokens one attention group holds
K_MAX_SEQS = 3  # sequences one attention group runs at once
K_MAX_WORK = 4  # stop once the work (rounds plus the sequences they visit) exceeds this (0: no limit)
K_SIZE = 5
# what the simulation returns besides per-request times (``Q_*``)
Q_STATUS = 0  # 0 ran; 1 a request cannot fit in the KV cache even alone; 2 stopped at K_MAX_WORK
Q_STEPS = 1  # engine steps
Q_END = 2  # seconds until the last request finished
Q_PREEMPTIONS = 3  # sequences evicted and recomputed (paged KV ran out)
Q_BUSY = 4  # seconds with at least one sequence running
Q_PREFILL_TIME = 5  # seconds of the steps that carried prompt tokens
Q_WORK = 6  # scheduling rounds plus the running sequences each visits: the simulation's work
Q_SIZE = 7
# what a step's time is made of (``step_parts``; the simulation adds them up per request)
P_COMPUTE = 0  # seconds of compute-bound ops other than attention and the routed experts
P_MEMORY = 1  # seconds of HBM-bound ops other than attention and the routed experts (weights streamed)
P_ATTENTION = 2  # seconds of compute-bound attention (prompt chunks over their prefixes)
P_EXPERT_COMPUTE = 3  # seconds of the routed experts' compute-bound ops
P_EXPERT_MEMORY = 4  # seconds of the routed experts' HBM-bound ops
P_KV = 5  # seconds of HBM-bound attention (the KV cache read)
P_FIXED = 6  # the rest of the priced step: link-bound ops and the hardware's fixed costs
P_STEPS = 7  # steps
P_SEQS = 8  # sequences carried
P_LAUNCHES = 9  # kernels launched
P_SIZE = 10
# ---- the disaggregated simulation (``kernels/disagg.py``) ------------------------------------------------
# deployment (``D_*``)
D_USERS = 0  # closed loop: users keeping one request each in flight (0: open loop, by arrival times)
D_REQUESTS = 1  # requests sent in all
D_PF_WORKERS = 2  # prefill workers
D_PF_GROUPS = 3  # attention groups of one prefill worker (data-parallel attention)
D_PF_BATCH = 4  # prompts one prefill group computes in one pass at most
D_DC_WORKERS = 5  # decode workers
D_DC_GROUPS = 6  # attention groups of one decode worker
D_DC_SLOTS = 7  # sequences one decode group holds at most (their whole KV cache: prompt + output)
D_LINK_BW = 8  # bytes/s per chip of the link a prompt's KV cache crosses (achievable)
D_LINK_LATENCY = 9  # seconds per transfer
D_MAX_WORK = 10  # stop once the work exceeds this (0: no limit)
D_SIZE = 11
# what the disaggregated simulation returns (``DQ_*``)
DQ_STATUS = 0  # 0 ran; 1 not one request fits; 2 stopped at D_MAX_WORK
DQ_END = 1  # seconds until the last request finished
DQ_PF_BUSY = 2  # seconds the prefill workers computed, summed over workers
DQ_DC_BUSY = 3  # seconds the decode workers stepped, summed over workers
DQ_DC_STEPS = 4  # decode steps, summed over workers
DQ_PF_PASSES = 5  # prefill passes, summed over workers
DQ_WORK = 6
DQ_SIZE = 7
#: ITL histogram: log-spaced bins from 10**ITL_LOG_MIN to 10**ITL_LOG_MAX seconds
ITL_BINS = 3600
ITL_LOG_MIN = -7.0
ITL_LOG_MAX = 3.0

# ---- training layout (one row per candidate, ``pack.pack_layout``) -----------------------------------
T_TP = 0
T_PP = 1
T_DP = 2
T_CP = 3
T_MB = 4  # sequences per micro-batch per DP rank
T_GB = 5  # sequences per optimizer step
T_SEQ = 6
T_RECOMPUTE = 7  # the index in RECOMPUTE_MODES: 0 none, 1 selective, 2 full
T_ZERO = 8
T_VPP = 9  # virtual pipeline stages per rank (1: plain 1F1B)
T_SP = 10  # 1: sequence parallelism (norms/dropout sharded, RS+AG instead of AR)
T_FLASH = 11  # 1: FlashAttention (scores never in HBM)
T_MM_BYTES = 12  # bytes of a GEMM weight operand (2: bf16/fp16, 1: fp8)
T_EP = 13  # expert-parallel degree over the data-parallel ranks (MoE; 1 otherwise)
T_DROPOUT = 14  # 1: dropout layers (their masks are kept for backward); modern LLM pretraining uses none
T_FIRST = 15  # layers of the first pipeline stage when the stages are uneven (0: every stage ceil(L / pp))
T_LAST = 16  # layers of the last pipeline stage when uneven; the middle stages share the rest equally
T_CP_COMM = 17  # the index in CP_COMM_TYPES: how context parallelism exchanges attention's inputs
T_EAGER = 18  # the index in KERNEL_MODES: 1 runs the block op by op (``roofline.kernels.train_eager``)
T_SIZE = 19
RECOMPUTE_MODES = ("none", "selective", "full")
#: Megatron-LM's --cp-comm-type: p2p, the ring exchange of K/V chunks overlapped with attention; a2a, the
#: all-to-all of Q, K, V and the output between sequence and head shards (DeepSpeed-Ulysses); all_gather, the
#: whole sequence's K/V gathered before attention.
CP_COMM_TYPES = ("p2p", "a2a", "all_gather")
#: How the framework runs a block's elementwise ops: fused (Megatron-LM, TransformerEngine, torch.compile) or
#: eager (PyTorch op by op, as Meta's reference Llama code runs without torch.compile).
KERNEL_MODES = ("fused", "eager")

# ---- training extras: attention peak and the mixed-precision state convention ------------------------
X_ATTN_PEAK = 0  # dense 16-bit FLOP/s (attention runs in 16 bit even when the GEMMs run fp8)
X_ATTN_EFF = 1  # achievable fraction of X_ATTN_PEAK for FlashAttention
X_GEMM16_EFF = 2  # achievable fraction for 16-bit GEMMs (unfused attention's batched GEMMs)
X_PARAM_BYTES = 3
X_GRAD_BYTES = 4
X_OPT_BYTES = 5
X_REDUCE_BYTES = 6  # bytes per gradient element on the wire
X_OPT_TRAFFIC = 7  # HBM bytes per parameter of the optimizer step
X_SUSTAINED = 8  # share of kernel throughput (GEMM and attention) sustained over whole training steps
X_STEP_OVERHEAD = 9  # fixed seconds per optimizer step (reported with the optimizer)
X_MEM_FRACTION = 10  # share of HBM a training step may fill (training_usable_fraction)
X_SIZE = 12

# ---- training results (``train_step``) ---------------------------------------------------------------
R_STEP = 0
R_COMPUTE = 1
R_TP = 2
R_BUBBLE = 3
R_PP = 4
R_DP = 5
R_CP = 6
R_OPT = 7
R_MEM = 8  # bytes per chip (most loaded chip)
R_ACT = 9  # activation bytes per chip
R_STATE = 10  # weights + grads + optimizer bytes per chip
R_MODEL_FLOPS = 11  # model FLOPs of the step per chip (3x forward, no recompute)
R_HW_FLOPS = 12  # FLOPs executed per chip (backward 2x, flash 2.5x, recompute)
R_MICRO = 13  # micro-batches per step per DP rank
R_FITS = 14
R_SIZE = 16

# ---- sweep group table (one row per chip x model x layout x formats) ---------------------------------
G_MODEL = 0  # row of the model matrix
G_HW = 1  # row of the hardware matrix
G_KEY = 2  # reduction key (best and Pareto are kept per key)
G_CHIPS = 3  # chips of one replica (throughput per chip divides by it)
G_ATTN_DP = 4  # data-parallel attention groups of one replica (MoE with ep > tp), each with its share
G_SIZE = 5

# ---- what a decode step's attention row needs at every context (``inference.decode_attention_plan``) ----
DP_SEQS = 0  # sequences in the pass
DP_Q = 1  # new tokens per sequence (1 + draft tokens)
DP_FULL = 2  # full (or sparse) attention blocks
DP_SWA = 3  # sliding-window attention blocks
DP_REC = 4  # recurrent blocks
DP_WINDOW = 5  # the sliding window
DP_TOP_K = 6  # sparse attention's keys per query (0: dense)
DP_IDX_DIM = 7  # sparse attention's indexer width
DP_IDX_HEADS = 8  # and its heads
DP_PER_KEY = 9  # FLOPs per visited key (``forward.softmax_terms``)
DP_CACHED = 10  # K/V values cached per token
DP_KVB = 11  # bytes per cached value
DP_NEW = 12  # bytes per sequence of the new tokens
DP_REC_FLOPS = 13  # one recurrent layer's FLOPs (``forward.recurrent_cost``; 0 without)
DP_REC_HBM = 14  # and its bytes
DP_FLOPS_PER_S = 15  # attention's achievable FLOP/s (``roofline.op_rates``)
DP_BYTES_PER_S = 16  # attention's achievable HBM bytes/s
DP_COUNT = 17  # attention rows in the pass
DP_KERNEL_S = 18  # seconds per kernel launch
DP_PP = 19  # pipeline stages
DP_BATCH = 20  # sequences of the step (W_BATCH)
DP_STEP_S = 21  # engine seconds per step
DP_SEQ_S = 22  # engine seconds per sequence per step
DP_ACCEPT = 23  # tokens emitted per sequence per step
DP_SIZE = 24

# ---- figures stored per configuration ----------------------------------------------------------------
S_TPOT = 0  # static: seconds per output token
S_TTFT = 1  # static: seconds to first token (prefill of the whole batch)
S_MEM = 2  # static: bytes per chip
S_SIZE = 3
V_TPOT = 0  # serving: mean seconds between a sequence's tokens
V_TTFT = 1  # serving: seconds to first token, waiting included
V_RPS = 2  # serving: requests per second of one replica
V_CAP = 3  # serving: sequences whose KV cache the engine holds
V_PREFILL_BOUND = 4  # serving: 1 when prefill is the bottleneck
V_SIZE = 5

# ---- record of a reduction ---------------------------------------------------------------------------
REC_X = 0  # output tokens/s per chip
REC_Y = 1  # output tokens/s per user
REC_INDEX = 2  # configuration index
REC_FIGURES = 3  # the stored figures follow

# ---- limits of a sweep's reductions ------------------------------------------------------------------
L_MAX_TPOT = 0
L_MAX_TTFT = 1
L_BEST = 2  # 1: keep the best per key
L_PARETO = 3  # 1: keep the Pareto front per key
L_SIZE = 4
