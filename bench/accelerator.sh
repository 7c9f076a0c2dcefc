#!/usr/bin/env bash
# The GPU measurements, as run on a borrowed GPU machine that has JAX and PyTorch but no
# TensorFlow build for its CUDA (see keras_resnet/bench/accelerator.py):
#   1. ResNet-50 / CIFAR ResNet throughput on Keras' JAX backend beside PyTorch on the same GPU;
#   2. the digits degradation table (experiments/portable.py), three seeds.
# Each stage has a time limit and saves what it finished, so a cut-short run keeps its results.
#
#   WHEELS=.device OUT=/tmp/gpu bash bench/accelerator.sh
#
# WHEELS holds keras, namex, optree and ml_collections wheels for the machine's Python, and
# digits.npz (`python -m experiments.portable digits_degradation --data=digits.npz
# --save_data=digits`, made where TensorFlow is installed). Results land in OUT.
set -u
OUT=${OUT:?set OUT to the results folder}
WHEELS=${WHEELS:-.device}
BENCH_S=${BENCH_S:-150}    # start no benchmark cell after this many seconds
DIGITS_S=${DIGITS_S:-200}  # start no digits run after this many seconds
RUNS=${RUNS:-3}
mkdir -p "$OUT"
if ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
# JAX would take 75% of the GPU's memory up front, leaving PyTorch's cells short.
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
 python3 -c "import jax, keras, torch; print(jax.__version__, jax.devices(), keras.__version__, torch.__version__)"
) >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
timeout $((BENCH_S + 90)) python3 -m keras_resnet.bench.accelerator --out="$OUT" \
  --budget_s="$BENCH_S" ${BENCH_ONLY:+--only="$BENCH_ONLY"} 2>&1 | tee "$OUT/accelerator.log"
timeout $((DIGITS_S + 90)) python3 -m experiments.portable digits_degradation \
  --data="$WHEELS/digits.npz" --workdir_root=/tmp/gpu-runs --runs="$RUNS" \
  --budget_s="$DIGITS_S" ${DIGITS_ARGS:-} 2>&1 | tee "$OUT/digits.log"
tar czf "$OUT/digits_runs.tgz" -C /tmp gpu-runs
