"""Index constants of the packed vectors that kernels read and write.

Three inputs, packed as float64 vectors: the model (``M_*``), the hardware with its efficiency
(``H_*``) and the workload with its parallel layout (``W_*``). Kernels fill an op table (``OP_*``
columns, one row per op kind in ``OPS``).
"""

# ---- model ---------------------------------------------------------------------------------------
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
M_SIZE = 32

# ---- hardware (chip x efficiency) ------------------------------------------------------------------
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
H_SIZE = 24

# ---- workload and layout -------------------------------------------------------------------------------
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
W_SIZE = 16

# ---- op table ----------------------------------------------------------------------------------------
OP_FLOPS = 0  # FLOPs per chip per occurrence
OP_HBM = 1  # HBM bytes per chip per occurrence
OP_LINK = 2  # bytes each chip sends per occurrence
OP_STEPS = 3  # latency-bearing steps of the collective (0: not a collective)
OP_SCALE_OUT = 4  # 1 when the collective crosses the scale-out network
OP_COUNT = 5  # occurrences in the pass (e.g. layers)
OP_COLS = 6

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
