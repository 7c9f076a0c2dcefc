"""The PyTorch peer as PyTorch's own CPU performance guides tune it, and what each row ran.

Every PyTorch cell runs channels_last, with bf16 by `torch.autocast("cpu", bfloat16)`.
Training runs eager, as training scripts do. Inference runs under `torch.inference_mode` in one
of GRAPHS, and the benchmark times each one it is given and keeps every row: the ratios take the
fastest (`keras_resnet.bench.summary`), so the peer is compared at its best configuration:

- "jit": `torch.jit.trace` + `torch.jit.freeze` (BN folded into the convolutions, weights as
  constants) + `torch.jit.optimize_for_inference` (oneDNN conv fusions); for bf16, traced under
  autocast, which records its casts in the graph;
- "compile": `torch.compile` (inductor, which needs a working C++ compiler: `compiler_works`);
- "eager": the module as written, the baseline that shows what the graph modes gain.
"""

from __future__ import annotations

import functools

GRAPHS = {
    "jit": "jit.trace + jit.freeze + jit.optimize_for_inference",
    "compile": "torch.compile (inductor)",
    "eager": "eager",
}
# `--quick` leaves torch.compile out: its first call compiles ResNet-50 for one shape and
# precision, tens of seconds of a run that must stay under 4 minutes on 2 cores.
QUICK_SKIPS_COMPILE = "not run in --quick (compiling ResNet-50 takes tens of seconds a shape)"


@functools.cache
def compiler_works() -> str | None:
    """None when `torch.compile` (inductor's C++ backend) builds and runs a one-op function
    here, else why not, in one line."""
    try:
        import torch

        fn = torch.compile(lambda t: torch.relu(t) + 1, backend="inductor")
        fn(torch.ones(4))
    except Exception as e:  # no compiler, no Python headers, an unsupported build: all "no"
        return f"does not work here: {type(e).__name__}: {(str(e).splitlines() or [''])[0]}"
    return None


def inference_graphs(quick: bool) -> list[str]:
    """The GRAPHS this run times for inference: compile only where it works and time allows."""
    graphs = ["jit", "eager"]
    if not quick and compiler_works() is None:
        graphs.insert(1, "compile")
    return graphs


def configuration(*, train: bool, bf16: bool, graph: str = "eager") -> str:
    """One line: the setting a PyTorch row was measured with."""
    if graph not in GRAPHS:
        raise ValueError(f"graph must be one of {sorted(GRAPHS)}, got {graph!r}.")
    parts = ["channels_last"] + ([] if train else ["inference_mode", GRAPHS[graph]])
    return ", ".join(parts + ["autocast(bfloat16)" if bf16 else "float32"])


def describe(quick: bool) -> dict:
    """The PyTorch peer's settings for the results JSON and the report's header."""
    compile_note = QUICK_SKIPS_COMPILE if quick else (compiler_works() or "timed")
    return {
        "inference": "; ".join(GRAPHS[g] for g in inference_graphs(quick))
        + " (each timed; ratios use the fastest); channels_last, inference_mode, "
        "bf16 by autocast(bfloat16)",
        "training": "eager, channels_last, bf16 by autocast(bfloat16), SGD with momentum",
        "torch.compile": compile_note,
    }


def inference_fn(net, x, *, graph: str, bf16: bool):
    """`net` (eval mode, channels_last) as GRAPHS' `graph` for inputs like `x`."""
    import torch

    if graph == "eager":
        return net
    if graph == "compile":
        return torch.compile(net)  # compiles on its first call: the timer's warm-up
    if graph != "jit":
        raise ValueError(f"graph must be one of {sorted(GRAPHS)}, got {graph!r}.")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        # check_trace=False: the check reruns the whole net to compare, for a static graph.
        traced = torch.jit.trace(net, x, check_trace=False)
        return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
