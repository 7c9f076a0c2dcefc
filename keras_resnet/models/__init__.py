"""The models: a registry of variants as data (`registry`), blocks of standard Keras layers
(`blocks`), the network builder (`resnet`), FLOP counting (`flops`), BN on TensorFlow's fused
kernel (`fused_bn`), torchvision weight import (`weights`), the PyTorch reference net used to
check it (`torch_reference`), and the README's model table (`table`).

`keras_resnet.create_model(name, **overrides)` is the entry point most users want.
"""
