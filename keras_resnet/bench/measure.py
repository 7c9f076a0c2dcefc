"""Measurement that needs no TensorFlow: the timer every benchmark uses, and the PyTorch peer.

`timing` (TensorFlow's matmul peak and Keras under TensorFlow) and `accelerator` (Keras on any
backend, for GPU machines that have no TensorFlow build) both time with `time_fn`, so their
numbers mean the same thing: the median of repeated calls after a warm-up.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable


@dataclasses.dataclass
class Timing:
    per_iter_s: float  # median seconds per iteration
    iters: int

    def rate(self, items_per_iter: int) -> float:
        return items_per_iter / self.per_iter_s


def time_fn(fn: Callable[[], object], *, warmup: int, min_time: float, max_iters: int) -> Timing:
    """Median time of `fn()` after `warmup` calls, over at least 3 calls and `min_time` seconds.

    The median, not the mean, because these machines are shared and noisy: one stalled
    iteration should not move the result. `fn` must return only once its work is done (it
    synchronises with the device itself).
    """
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), len(times))


def torch_resnet50_throughput(
    *,
    batch: int,
    train: bool,
    bf16: bool,
    min_time: float,
    threads: int | None = None,
    warmup: int = 2,
    device: str = "cpu",
    max_iters: int = 30,
    graph: str = "eager",
) -> float | None:
    """Images/s of a PyTorch ResNet-50 (torchvision's layout), channels_last, with optional bf16
    autocast, on `device` ("cpu" or "cuda"); inference runs as `keras_resnet.bench.torch_peer`'s
    `graph` ("eager", "jit" or "compile"). None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    try:
        from torchvision.models import resnet50 as tv_resnet50  # the real peer, if importable

        net = tv_resnet50()
    except Exception:  # torchvision absent or broken beside this torch build
        from keras_resnet.models.torch_reference import ARCHS, ResNet

        net = ResNet(*ARCHS["resnet50"])
    if threads:
        torch.set_num_threads(threads)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest conv algorithms, as users do
    net = net.to(device, memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=bf16)
    # CUDA runs asynchronously: each timed call waits for its kernels to finish.
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if train:
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def fn():
            opt.zero_grad(set_to_none=True)
            with autocast:
                loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            sync()

    else:
        from keras_resnet.bench.torch_peer import inference_fn

        run = inference_fn(net.eval(), x, graph=graph, bf16=bf16)

        def fn():
            with torch.inference_mode(), autocast:
                run(x)
            sync()

    return time_fn(fn, warmup=warmup, min_time=min_time, max_iters=max_iters).rate(batch)
