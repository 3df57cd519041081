#!/usr/bin/env bash
# Train the shipped weights with the metnet command-line tool:
#   weights/metnet_huber.json           Huber (delta 1.5)
#   weights/metnet_gnll.json            Gaussian NLL (predicts sigma and METNetSig)
#   weights/metnet_huber_sinkhorn.json  Huber + Sinkhorn (lambda SINKHORN_WEIGHT, default 1; epsilon 0.01;
#                                       SINKHORN_ON=parallel by default: it compares only the MET components
#                                       along the Tight MET, see metnet train --help)
# on simulated events with the Run-2 pile-up profile, never Z -> mu mu:
#   1,000,000 ttbar (seed 1),
#     200,000 ttbar with a true MET above 200 GeV (seed 21),
#      50,000 ttbar with a true MET above 400 GeV (seed 23),
#     300,000 W -> l nu (seed 22),
#     100,000 stop pairs, stop 1000 GeV, neutralino 100 GeV (seed 31),
#     100,000 stop pairs, stop 1500 GeV, neutralino 300 GeV (seed 32).
# The two MET-filtered ttbar slices populate high MET, as ATLAS's filtered
# samples do; the plain sample has 124 events above 500 GeV. The two stop
# samples fill the true MET from 600 GeV to beyond 1 TeV with events whose
# sum ET is that of a signal and not of a boosted ttbar pair. The stop
# signal used in the evaluation (1200/100 GeV) lies between them. The
# network (4 x 128, SiLU, layer normalisation) regresses the correction to
# the Tight MET (--residual). Training uses sample weights flat in true MET
# up to 1 TeV, so that the network does not pull high MET down towards the
# falling ttbar spectrum. It uses a cosine learning-rate decay over all
# epochs and keeps the last epoch (--keep last). The validation loss on
# 5 % of the events is weighted flat in true MET, so a few high-MET events
# dominate it and it is too noisy to pick an epoch. Each model writes a
# checkpoint and resumes from it (--resume), and is skipped when its
# weights file exists.
# Usage: scripts/train_shipped_weights.sh [MODEL...]  (writes weights/; MODEL is
#        huber, gnll or huber_sinkhorn, all three by default; run one
#        invocation per model to train them in parallel)
#        SIZE=small OUT=/tmp/w scripts/train_shipped_weights.sh   (a quick check)
#        THREADS=1 sets the simulation and training threads (default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."

size=${SIZE:-full}
out=${OUT:-weights}
build_dir=build/shipped-weights
data_dir=$build_dir/data
if [[ $size == small ]]; then
  events=4000 slice_200=400 slice_400=100 wlnu_events=1000 stop_events=500 epochs=1 layers=1 width=16
else
  events=1000000 slice_200=200000 slice_400=50000 wlnu_events=300000 stop_events=100000 epochs=14 layers=4 width=128
fi

bash scripts/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DMETNET_BUILD_TESTS=OFF -DMETNET_BUILD_BENCHMARKS=OFF -DMETNET_BUILD_EXAMPLES=OFF -DMETNET_BUILD_TOOLS=ON
cmake --build "$build_dir" --target metnet_tool --parallel "$(nproc)"
metnet=$build_dir/tools/metnet
mkdir -p "$data_dir" "$out" "$build_dir/checkpoints"

ttbar=$data_dir/ttbar_${size}.npy
ttbar_200=$data_dir/ttbar_met200_${size}.npy
ttbar_400=$data_dir/ttbar_met400_${size}.npy
wlnu=$data_dir/wlnu_${size}.npy
stop_1000=$data_dir/stop_1000_100_${size}.npy
stop_1500=$data_dir/stop_1500_300_${size}.npy
threads=${THREADS:-$(nproc)}  # the weights do not depend on it
[[ -e $ttbar ]] || "$metnet" simulate --process ttbar --events "$events" --mu-profile run2 --seed 1 --threads "$threads" -o "$ttbar"
[[ -e $ttbar_200 ]] || "$metnet" simulate --process ttbar --events "$slice_200" --min-true-met 200 --mu-profile run2 \
  --seed 21 --threads "$threads" -o "$ttbar_200"
[[ -e $ttbar_400 ]] || "$metnet" simulate --process ttbar --events "$slice_400" --min-true-met 400 --mu-profile run2 \
  --seed 23 --threads "$threads" -o "$ttbar_400"
[[ -e $wlnu ]] || "$metnet" simulate --process wlnu --events "$wlnu_events" --mu-profile run2 --seed 22 --threads "$threads" -o "$wlnu"
[[ -e $stop_1000 ]] || "$metnet" simulate --process stop --stop-mass 1000 --neutralino-mass 100 --events "$stop_events" \
  --mu-profile run2 --seed 31 --threads "$threads" -o "$stop_1000"
[[ -e $stop_1500 ]] || "$metnet" simulate --process stop --stop-mass 1500 --neutralino-mass 300 --events "$stop_events" \
  --mu-profile run2 --seed 32 --threads "$threads" -o "$stop_1500"

# train_model NAME LOSS BATCH_SIZE EPOCHS [extra train options]
train_model() {
  local name=$1 loss=$2 batch_size=$3 model_epochs=$4
  shift 4
  local target=$out/metnet_${name}.json
  if [[ -e $target ]]; then
    echo "skip $target: it exists (delete it to retrain)"
    return
  fi
  "$metnet" train "$ttbar" "$ttbar_200" "$ttbar_400" "$wlnu" "$stop_1000" "$stop_1500" --loss "$loss" --layers "$layers" --width "$width" \
    --epochs "$model_epochs" --batch-size "$batch_size" --lr 1e-3 --lr-schedule cosine --residual --flat-to 1000 \
    --validation-fraction 0.05 --patience 0 --keep last --threads "$threads" --seed 1 \
    --checkpoint "$build_dir/checkpoints/$name.ckpt" --resume "$@" -o "$target"
}

models=("$@")
(( ${#models[@]} > 0 )) || models=(huber gnll huber_sinkhorn)
for model in "${models[@]}"; do
  case $model in
    huber) train_model huber huber 1024 "$epochs" ;;
    gnll) train_model gnll gnll 1024 "$epochs" ;;
    huber_sinkhorn) train_model huber_sinkhorn huber+sinkhorn 1024 "$epochs" --sinkhorn-weight "${SINKHORN_WEIGHT:-1}" \
      --sinkhorn-on "${SINKHORN_ON:-parallel}" ;;
    *) echo "unknown model '$model'; expected huber, gnll or huber_sinkhorn" >&2; exit 2 ;;
  esac
done
