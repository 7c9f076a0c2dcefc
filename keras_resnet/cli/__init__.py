"""Command-line entry points, one module per console script (keras-resnet-train, -eval, -export,
-models, -analysis, -bench). Each only parses its flags and calls the library; none does
anything at import time. `common` turns user errors into one line and hides TensorFlow's
start-up chatter."""
