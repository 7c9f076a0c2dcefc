"""`make bench`: throughput of our models against the machine's peak and against peers.

`run` orchestrates one benchmark run, `timing` measures (matmul peak, Keras and PyTorch
throughput, memory), `pipeline` measures the tf.data input pipelines, `report` turns the
numbers into ratios, targets and a Markdown table.
"""
