#!/usr/bin/env bash
# Train the shipped weights with the metnet command-line tool:
#   weights/metnet_huber.json           Huber (delta 1.5)
#   weights/metnet_gnll.json            Gaussian NLL (predicts sigma and METNetSig)
#   weights/metnet_huber_sinkhorn.json  Huber + Sinkhorn (lambda 1, epsilon 0.01)
# on 1,000,000 simulated ttbar events with the Run-2 pile-up profile (seed 1),
# with a 4 x 128 network (SiLU, layer normalisation), sample weights flat in
# true MET up to 360 GeV, 5 % of the events held out for early stopping.
# The Sinkhorn divergence costs O(batch^2) per batch, so that model uses
# batches of 256 and 3 epochs. Each model writes a checkpoint and resumes
# from it (--resume), and is skipped when its weights file exists.
# On the shared 2-core development machine, with the three trainings
# running in parallel, Huber and Gaussian NLL took about 30 minutes and
# Huber + Sinkhorn about 40 minutes.
# Usage: scripts/train_shipped_weights.sh            (writes weights/)
#        SIZE=small OUT=/tmp/w scripts/train_shipped_weights.sh   (a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."

size=${SIZE:-full}
out=${OUT:-weights}
build_dir=build/shipped-weights
data_dir=$build_dir/data
if [[ $size == small ]]; then
  events=4000 epochs=1 sinkhorn_epochs=1 layers=1 width=16
else
  events=1000000 epochs=14 sinkhorn_epochs=3 layers=4 width=128
fi

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DMETNET_BUILD_TESTS=OFF -DMETNET_BUILD_BENCHMARKS=OFF -DMETNET_BUILD_EXAMPLES=OFF -DMETNET_BUILD_TOOLS=ON
cmake --build "$build_dir" --target metnet_tool --parallel "$(nproc)"
metnet=$build_dir/tools/metnet
mkdir -p "$data_dir" "$out" "$build_dir/checkpoints"

ttbar=$data_dir/ttbar_${size}.npy
[[ -e $ttbar ]] || "$metnet" simulate --process ttbar --events "$events" --mu-profile run2 --seed 1 --threads "$(nproc)" -o "$ttbar"

# train_model NAME LOSS BATCH_SIZE EPOCHS [extra train options]
train_model() {
  local name=$1 loss=$2 batch_size=$3 model_epochs=$4
  shift 4
  local target=$out/metnet_${name}.json
  if [[ -e $target ]]; then
    echo "skip $target: it exists (delete it to retrain)"
    return
  fi
  "$metnet" train "$ttbar" --loss "$loss" --layers "$layers" --width "$width" --epochs "$model_epochs" \
    --batch-size "$batch_size" --lr 1e-3 --validation-fraction 0.05 --patience 4 --seed 1 \
    --checkpoint "$build_dir/checkpoints/$name.ckpt" --resume "$@" -o "$target"
}

train_model huber huber 1024 "$epochs"
train_model gnll gnll 1024 "$epochs"
train_model huber_sinkhorn huber+sinkhorn 256 "$sinkhorn_epochs" --sinkhorn-weight 1
