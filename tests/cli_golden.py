"""Fixed command-line invocations whose output is recorded once and compared byte for byte afterwards.

The recordings (``tests/golden/cli/``) pin what every command prints, text and JSON, so that a change
meant to move code without changing behaviour can prove it did not. Only what is not a result is masked
before comparing: wall-clock timings (``search_s``, ``seconds`` and the plan footer's "0.20 s"), the
sweep progress bar, the line saying that a kernel missing from the numba cache is being compiled, and the
folders of the checkout (the shipped profiles, the tests, the temporary
folder the plots are written to).

Record anew only when a change is meant to alter output, and say so in the commit:
``ROOFLINE_RECORD_GOLDEN=1 pytest tests/test_cli_golden.py tests/test_validate.py`` (the case in
:data:`SHARED` is checked by tests/test_validate.py on the session's one shipped validate run).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from click.testing import CliRunner

from roofline.cli import main
from roofline.loaders.files import profiles_dir

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "cli"
HF_8B = str(HERE / "data" / "hf" / "llama-Meta-Llama-3.1-8B")
CUSTOM_CHIP = str(HERE / "data" / "chips" / "custom-accelerator.toml")

#: name -> arguments; ``{out}`` is replaced by a file in a temporary folder (plots).
CASES: dict[str, list[str]] = {
    # estimate: serving, training and the verdict, text and JSON
    "estimate-h20-70b": ["estimate", "--chip", "H20", "--model", "70B"],
    "estimate-h20-70b-json": ["estimate", "--chip", "H20", "--model", "70B", "--format", "json"],
    "estimate-h100-70b-tp8": ["estimate", "--chip", "H100", "--model", "70B", "--tp", "8", "--mode", "inference"],
    "estimate-ops": ["estimate", "--chip", "H100", "--model", "8B", "--mode", "inference", "--batch", "16", "--ops"],
    "estimate-vllm-c64-json": ["estimate", "--chip", "H200", "--model", "70B", "--mode", "inference",
                               "--concurrency", "64", "--engine", "vllm", "--format", "json"],
    "estimate-rate-sglang": ["estimate", "--chip", "H100", "--model", "8B", "--mode", "inference",
                             "--request-rate", "5", "--engine", "sglang"],
    "estimate-trtllm-max-fp8": ["estimate", "--chip", "H100", "--model", "70B", "--mode", "inference", "--tp", "4",
                                "--weight-dtype", "fp8", "--kv-dtype", "fp8", "--concurrency", "max",
                                "--engine", "trtllm"],
    "estimate-moe-ep-json": ["estimate", "--chip", "H200", "--model", "DeepSeek-V3", "--mode", "inference",
                             "--weight-dtype", "fp8", "--tp", "8", "--ep", "8", "--batch", "32", "--format", "json"],
    "estimate-moe-attn-dp": ["estimate", "--chip", "H200", "--model", "DeepSeek-V3", "--mode", "inference",
                             "--weight-dtype", "fp8", "--tp", "2", "--ep", "8", "--batch", "64",
                             "--concurrency", "128", "--engine", "sglang", "--ops"],
    "estimate-speculative": ["estimate", "--chip", "H100", "--model", "70B", "--mode", "inference", "--tp", "4",
                             "--draft-tokens", "3", "--accepted-tokens", "2.5"],
    "estimate-training-layout": ["estimate", "--chip", "H100", "--model", "70B", "--mode", "training",
                                 "--num-chips", "512", "--tp", "8", "--pp", "4", "--dp", "16", "--micro-batch", "1",
                                 "--recompute", "selective", "--zero", "1", "--virtual-pp", "5", "--days", "30",
                                 "--tokens", "2T"],
    "estimate-training-planned-json": ["estimate", "--chip", "A100", "--model", "8B", "--mode", "training",
                                       "--num-chips", "64", "--seq-len", "8192", "--format", "json"],
    "estimate-hf-config": ["estimate", "--chip", "L40S", "--model", HF_8B, "--mode", "inference", "--batch", "4"],
    "estimate-custom-chip-json": ["estimate", "--chip", CUSTOM_CHIP, "--model", "8B", "--format", "json"],
    "estimate-b200-ref-a100": ["estimate", "--chip", "B200", "--model", "70B", "--reference", "A100",
                               "--mode", "inference", "--batch", "8"],
    "estimate-mi300x-json": ["estimate", "--chip", "MI300X", "--model", "8B", "--format", "json"],
    "estimate-ascend-moe": ["estimate", "--chip", "Ascend-910B", "--model", "Qwen3-30B-A3B", "--mode", "inference",
                            "--batch", "8"],
    "estimate-r1-h20-pp": ["estimate", "--chip", "H20", "--model", "DeepSeek-R1", "--weight-dtype", "fp8",
                           "--tp", "8", "--pp", "2", "--mode", "inference", "--batch", "16"],
    # plan: training and serving
    "plan-405b-16k": ["plan", "--chip", "H100", "--model", "405B", "--num-chips", "16384"],
    "plan-a100-13b-json": ["plan", "--chip", "A100", "--model", "Llama-2-13B", "--num-chips", "256", "--top", "3",
                           "--format", "json", "--days", "10"],
    "plan-serving-h20": ["plan", "--chip", "H20", "--model", "70B", "--mode", "inference", "--num-chips", "16",
                         "--max-tpot-ms", "50"],
    "plan-serving-mixtral-json": ["plan", "--chip", "H100", "--model", "Mixtral-8x7B", "--mode", "inference",
                                  "--num-chips", "8", "--max-ttft-ms", "2000", "--format", "json"],
    # sweep
    "sweep-static-csv": ["sweep", "--chips", "H20,H100", "--models", "8B,70B", "--batch", "1,8,64",
                         "--input-len", "1k,4k", "--tp", "4,8"],
    "sweep-decode-json": ["sweep", "--chips", "H200", "--models", "8B", "--batch", "1:16:x2", "--decode-only",
                          "--format", "json"],
    "sweep-best": ["sweep", "--chips", "H20,H100,B200", "--models", "70B", "--batch", "1:512:x2", "--best",
                   "--max-tpot-ms", "50"],
    "sweep-pareto-vllm-json": ["sweep", "--chips", "H100", "--models", "8B", "--batch", "1:256:x2",
                               "--engine", "vllm", "--pareto", "--format", "json"],
    "sweep-skipped": ["sweep", "--chips", "H20,A100", "--models", "70B", "--weight-dtype", "fp8,bf16", "--tp", "8",
                      "--batch", "1,32"],
    "sweep-serving-csv": ["sweep", "--chips", "H20", "--models", "Mixtral-8x7B", "--batch", "1,16,256",
                          "--engine", "trtllm", "--tp", "2,4", "--ep", "1,2"],
    # validate, chips, models
    "validate": ["validate"],
    "validate-bf16-json": ["validate", "--kv-dtype-when-blank", "bf16", "--format", "json"],
    "chips": ["chips"],
    "chips-json": ["chips", "--format", "json"],
    "models": ["models"],
    "models-json": ["models", "--format", "json"],
    # compare and plot
    "compare-h20-h100": ["compare", "--chips", "H20,H100", "--model", "70B"],
    "compare-json": ["compare", "--chips", "H20,B200,MI300X", "--model", "8B", "--reference", "H200",
                     "--price-per-hour", "1.5,5,3", "--format", "json"],
    "plot-roofline": ["plot", "roofline", "--chips", "H20,H100", "--model", "70B", "-o", "{out}/roofline.svg"],
    "plot-batch": ["plot", "batch", "--chips", "H20,H100", "--model", "8B", "-o", "{out}/batch.svg"],
    "plot-scaling": ["plot", "scaling", "--chips", "H20,H100", "--model", "8B", "--counts", "64,256,1024",
                     "-o", "{out}/scaling.svg"],
    # bad input: one line, exit code 2
    "error-unknown-chip": ["estimate", "--chip", "H2O0", "--model", "70B"],
    "error-tp": ["estimate", "--chip", "H100", "--model", "70B", "--tp", "3", "--mode", "inference"],
    "error-does-not-fit": ["estimate", "--chip", "L40S", "--model", "405B", "--tp", "1", "--mode", "inference"],
    "error-plan-option": ["plan", "--chip", "H100", "--model", "70B", "--max-tpot-ms", "50"],
    "error-sweep-both": ["sweep", "--chips", "H100", "--models", "8B", "--best", "--pareto"],
}

#: Cases checked elsewhere on a run the session shares (tests/conftest.py ``shipped_validation``).
SHARED = {"validate"}
RECORD = os.environ.get("ROOFLINE_RECORD_GOLDEN") == "1"

_TIMINGS = (
    (re.compile(r'("(?:search_s|seconds)": )[-+0-9.eE]+'), r"\1<seconds>"),
    (re.compile(r"(layouts meet the targets|usable per chip); [0-9.]+ s \("), r"\1; <seconds> s ("),
)
_PROGRESS = re.compile(r"(?:\rsweep \[[^\r\n]*)+\n?")
#: The line a command prints before compiling a kernel the numba cache lacks: a fact about the cache.
_COMPILING = re.compile(r"^roofline: compiling roofline kernels for first use .*\n", re.MULTILINE)


def normalise(text: str, out_dir: str | None = None) -> str:
    """Mask what is not a result: timings, the progress bar, the temporary output folder."""
    for pattern, repl in _TIMINGS:
        text = pattern.sub(repl, text)
    text = _PROGRESS.sub("", text)
    text = _COMPILING.sub("", text)
    text = text.replace(str(profiles_dir()), "<profiles>").replace(str(HERE), "<tests>")
    if out_dir:
        text = text.replace(out_dir, "<out>")
    return text


def run(name: str, out_dir: str) -> dict[str, str]:
    """Run case ``name``; the texts to compare: exit code, stdout, stderr and any file it wrote."""
    args = [a.replace("{out}", out_dir) for a in CASES[name]]
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    texts = {"exit": f"{result.exit_code}\n", "stdout": normalise(result.stdout, out_dir),
             "stderr": normalise(result.stderr, out_dir)}
    for path in sorted(Path(out_dir).iterdir()):
        texts[f"file-{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest() + "\n"
    return texts


def recorded(name: str) -> dict[str, str]:
    """The recorded texts of case ``name``."""
    folder = GOLDEN / name
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())}


def record(name: str, texts: dict[str, str]) -> None:
    folder = GOLDEN / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for key, text in texts.items():
        (folder / key).write_text(text, encoding="utf-8")
