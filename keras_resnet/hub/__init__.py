"""Published weights as data, and the download cache they are fetched into.

`catalog` holds one `WeightSpec` per published file (torchvision, keras.applications) and the
user's own registrations; `store` downloads a spec's file into the cache under $KERAS_HOME,
verifies its hash and honours KERAS_RESNET_OFFLINE and KERAS_RESNET_WEIGHTS_MIRROR; `network`
is the offline switch and a quick reachability check, which the TFDS datasets use too.

This package knows no model: keras_resnet.models.pretrained converts a fetched file, and
keras_resnet.weights is the public face (`register`, `list_weights`).
"""
