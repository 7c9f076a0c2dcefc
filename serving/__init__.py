"""keras_resnet.serving: a TF Serving-compatible model server, in two rooms.

- `keras_resnet.serving.core`: the server (model manager, servables, batching, the REST and gRPC
  front ends, health, metrics, its config files and log). It knows TensorFlow and TF Serving's
  protocols, and nothing of how models are built or trained.
- `keras_resnet.serving.tools`: what sits around a server: the launcher (`keras-resnet-serve`),
  the client (`keras-resnet-predict`), the demo, the serving benchmark, the soak test and the
  test helpers. Tools import the core; the core never imports a tool (pyproject.toml's
  import contracts).

The folder is the repository's top-level `serving/`; the package installs it under one import
name, `keras_resnet.serving` (pyproject.toml's package-dir). Importing it as plain `serving`
(possible from the repository root) would load every module twice, under two names, with two
sets of loggers and metrics, so it is refused.
"""

if __name__ != "keras_resnet.serving":
    raise ImportError(
        f"import this package as keras_resnet.serving, not {__name__} "
        "(`pip install -e .` or `make install` maps it)."
    )
