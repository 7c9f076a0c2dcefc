"""Training with Keras `fit` under tf.distribute: `train.train_and_evaluate(config, workdir)`.

`train` runs the loop; `inputs` turns a config into its data source; `callbacks` (learning-rate
schedule, NaN guard, resumable backups), `backups` (verified step-level generations),
`recording` (metrics.csv, checkpoints, per-step and per-epoch lines), `progress` (a bar on a
terminal, timed log lines elsewhere), `devices` (the start-up device report), `interrupts`
(SIGTERM/Ctrl-C), `distribute` (strategies) and `workdir` (the run directory's layout) each do
one part.
"""
