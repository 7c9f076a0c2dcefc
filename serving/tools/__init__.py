"""Tools around the server: see keras_resnet.serving."""
