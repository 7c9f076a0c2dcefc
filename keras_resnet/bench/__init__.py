"""`make bench`: throughput of our models against the machine's peak and against peers.

`run` orchestrates one benchmark run, `timing` measures (matmul peak, Keras and PyTorch
throughput), `served` times the exported SavedModel beside `peers` (ONNX Runtime, OpenVINO),
`memory` measures each workload's peak memory in a process of its own, `pipeline` measures the
tf.data input pipelines, `report` turns the numbers into ratios, targets and a Markdown table.
"""
