#!/usr/bin/env bash
# Train the shipped weights with the metnet command-line tool:
#   weights/metnet_huber.json           Huber
#   weights/metnet_huber_sinkhorn.json  Huber + Sinkhorn (lambda 1)
#   weights/metnet_gnll.json            Gaussian NLL (predicts sigma and METNetSig)
# on one simulated sample: 2,000,000 ttbar events with the Run-2 pile-up
# profile (seed 1) plus 500,000 WW events (seed 2), in build/shipped-weights/.
# Each model is skipped when its weights file exists, so an interrupted run
# resumes with the next missing model. A full run takes about an hour on two
# cores (estimate); SIZE=small runs the same commands on 5,000 events with
# tiny networks to check that they work.
# Usage: scripts/train_shipped_weights.sh            (writes weights/)
#        SIZE=small OUT=/tmp/w scripts/train_shipped_weights.sh
set -euo pipefail
cd "$(dirname "$0")/.."

size=${SIZE:-full}
out=${OUT:-weights}
build_dir=build/shipped-weights
data_dir=$build_dir/data
if [[ $size == small ]]; then
  ttbar_events=4000 ww_events=1000 epochs=1 layers=1 width=16
else
  ttbar_events=2000000 ww_events=500000 epochs=30 layers=5 width=256
fi

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DMETNET_BUILD_TESTS=OFF -DMETNET_BUILD_BENCHMARKS=OFF -DMETNET_BUILD_EXAMPLES=OFF -DMETNET_BUILD_TOOLS=ON
cmake --build "$build_dir" --target metnet_tool --parallel "$(nproc)"
metnet=$build_dir/tools/metnet
mkdir -p "$data_dir" "$out"

ttbar=$data_dir/ttbar_${size}.npy
ww=$data_dir/ww_${size}.npy
[[ -e $ttbar ]] || "$metnet" simulate --process ttbar --events "$ttbar_events" --mu-profile run2 --seed 1 --threads "$(nproc)" -o "$ttbar"
[[ -e $ww ]] || "$metnet" simulate --process ww --events "$ww_events" --mu-profile run2 --seed 2 --threads "$(nproc)" -o "$ww"

# train_model NAME LOSS BATCH_SIZE [extra train options]
train_model() {
  local name=$1 loss=$2 batch_size=$3
  shift 3
  local target=$out/metnet_${name}.json
  if [[ -e $target ]]; then
    echo "skip $target: it exists (delete it to retrain)"
    return
  fi
  "$metnet" train "$ttbar" "$ww" --loss "$loss" --layers "$layers" --width "$width" --epochs "$epochs" \
    --batch-size "$batch_size" --lr 1e-3 --validation-fraction 0.05 --patience 5 --seed 1 "$@" -o "$target"
}

train_model huber huber 1024
train_model gnll gnll 1024
# The Sinkhorn divergence costs O(batch^2) per batch, so this model uses smaller batches.
train_model huber_sinkhorn huber+sinkhorn 256 --sinkhorn-weight 1
