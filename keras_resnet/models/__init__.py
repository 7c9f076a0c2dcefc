"""The models: a registry of variants as data (`registry`), blocks of standard Keras layers
(`blocks`), the network builder (`resnet`), FLOP counting (`flops`), BN on TensorFlow's fused
kernel (`fused_bn`), activation recomputation per block or stage (`remat`), the model's own input normalisation (`normalization`), torchvision and
keras.applications weight import (`torchvision_weights`, `keras_applications`),
`create_model(weights=)` loading, registered tags included (`pretrained`), multi-scale features
(`features`), the PyTorch reference net used to check the import (`torch_reference`), and the
README's model table (`table`).

`keras_resnet.create_model(name, **overrides)` is the entry point most users want.
"""
