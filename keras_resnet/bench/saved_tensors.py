"""What each framework keeps from the forward pass for the backward pass of one ResNet-50
training step, per image, by the kind of op that made it (`make bench-memory` part two):

    python -m keras_resnet.bench.saved_tensors bench/memory-saved-vm.json

TensorFlow: the traced training step's graph (as Keras' `train_step` builds it, fused BN, before
Grappler rewrites it), every tensor a forward op makes that a gradient op reads. PyTorch:
`torch.autograd.graph.saved_tensors_hooks` sees every tensor autograd saves; one storage counts
once. Weights are left out (they do not grow with the batch). Both at batch 2, in MiB per image:
the peak RSS's slope (`memory_report`) against what backprop alone needs.
"""

from __future__ import annotations

import json
from collections import Counter

BATCH = 2
MIB = 2**20


def keras_saved(batch: int = BATCH, name: str = "resnet50", size: int = 224) -> dict[str, float]:
    import keras
    import tensorflow as tf

    import keras_resnet

    model = keras_resnet.create_model(name, variant="v1.5", input_shape=(size, size, 3))
    keras_resnet.use_fused_batchnorm(model)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    forward = set()  # the ops the forward pass made; everything after belongs to the gradient

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        forward.update(op.name for op in tf.compat.v1.get_default_graph().get_operations())
        return tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function(
        tf.TensorSpec((batch, size, size, 3)), tf.TensorSpec((batch,), tf.int32)
    ).graph
    kept = {}
    for op in graph.get_operations():
        if op.name in forward:
            continue
        for t in op.inputs:
            producer, shape = t.op, t.shape
            if producer.name not in forward or producer.type in ("ReadVariableOp", "Placeholder"):
                continue
            if shape.rank and shape[0] == batch and shape.is_fully_defined():
                kept[t.name] = (producer.type, shape.num_elements() * t.dtype.size)
    by_type = Counter()
    for kind, size in kept.values():
        by_type[kind] += size
    return {k: round(v / batch / MIB, 2) for k, v in by_type.most_common()}


def torch_saved(batch: int = BATCH, name: str = "resnet50", size: int = 224) -> dict[str, float]:
    import torch

    from keras_resnet.models.torch_reference import ARCHS, ResNet

    net = ResNet(*ARCHS[name]).to(memory_format=torch.channels_last).train()
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    kept = {}

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params and t.dim() and t.shape[0] == batch:
            kept[ptr] = (t.grad_fn.name() if t.grad_fn else "input", storage.nbytes())
        return t

    x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x).sum()
    by_type = Counter()
    for kind, size in kept.values():
        by_type[kind] += size
    return {k: round(v / batch / MIB, 2) for k, v in by_type.most_common()}


def main(path: str) -> int:
    report = {"batch": BATCH}
    for impl, fn in (("keras_resnet", keras_saved), ("pytorch", torch_saved)):
        by_type = fn()
        report[impl] = {"mib_per_image": round(sum(by_type.values()), 1), "by_op": by_type}
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1]))
