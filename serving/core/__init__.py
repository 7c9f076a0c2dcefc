"""The server core: see keras_resnet.serving."""
