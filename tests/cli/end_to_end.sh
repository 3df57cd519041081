#!/usr/bin/env bash
# End-to-end run of the metnet binary on tiny inputs: simulate -> train ->
# predict -> inspect, then bad inputs, each of which must exit with 2, print
# a message naming the problem and leave no output file.
# Usage: end_to_end.sh METNET_BINARY WORK_DIR
set -uo pipefail
metnet=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
# shellcheck source=tests/cli/checks.sh
source "$here/checks.sh"

# The good path.
ok "$metnet" simulate --process ttbar --events 3000 --seed 1 -o train.csv
ok "$metnet" simulate --process zmumu --events 500 --mu-profile uniform --seed 2 -o test.npy
ok "$metnet" simulate --process ww --events 10 --mu-profile fixed --mu 30 --seed 3 -o fixed.csv
ok "$metnet" simulate --process stop --stop-mass 700 --neutralino-mass 300 --events 200 --seed 5 -o light_stop.csv
# Two stops of 700 GeV decaying to neutralinos of 300 GeV: the true MET stays well below 1 TeV.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "True_ET") column = i; next }
         $column > 1000 { high++ } END { exit high > 0 }' light_stop.csv || fail "simulate --stop-mass 700: true MET above 1 TeV"
ok "$metnet" train train.csv --loss huber --layers 1 --width 16 --epochs 2 --batch-size 256 -o huber.json
ok "$metnet" train train.csv --loss gnll --layers 1 --width 16 --epochs 1 --batch-size 256 -o gnll.json
ok "$metnet" train train.csv --loss huber+sinkhorn --layers 1 --width 8 --epochs 1 --batch-size 64 \
  --validation-fraction 0.05 --sinkhorn-epsilon 0.05 -o sinkhorn.json
ok "$metnet" simulate --process ttbar --events 200 --min-true-met 150 --seed 4 -o filtered.csv
grep -q "truth filter: kept 200 of" out.txt || fail "simulate: no filter efficiency in the output: $(cat out.txt)"
[[ $(wc -l < filtered.csv) -eq 201 ]] || fail "simulate with a filter: expected 200 events and a header"
ok "$metnet" train train.csv filtered.csv --loss huber --layers 1 --width 16 --epochs 2 --batch-size 256 \
  --residual --flat-to 500 --lr-schedule cosine -o residual.json
ok "$metnet" predict huber.json test.npy -o predicted.csv
head -1 predicted.csv | grep -q "METNet_EX,METNet_EY,METNet_ET,METNet_Phi$" || fail "predict: missing METNet columns"
ok "$metnet" predict gnll.json test.npy -o predicted_gnll.npy
ok "$metnet" predict gnll.json train.csv -o predicted_gnll.csv
head -1 predicted_gnll.csv | grep -q "METNet_Sigma,METNet_Sig$" || fail "predict gnll: missing METNet_Sigma, METNet_Sig"
[[ $(wc -l < predicted_gnll.csv) -eq 3001 ]] || fail "predict gnll: expected 3000 events and a header"
ok "$metnet" inspect gnll.json
for field in "74 inputs" "Tight_Final" "gaussian_nll" "parameters" "git_revision" "seed: 1" "events: 3000"; do
  grep -q "$field" out.txt || fail "inspect: no '$field' in the output"
done
ok "$metnet" inspect sinkhorn.json
grep -q "huber+sinkhorn" out.txt || fail "inspect: the Sinkhorn model is not named huber+sinkhorn"
grep -q "second.epsilon = 0.05" out.txt || fail "inspect: --sinkhorn-epsilon 0.05 is not in the weights file"
grep -q "second.weighted_marginals = 0" out.txt || fail "inspect: the Sinkhorn marginals are not equal by default"
ok "$metnet" train train.csv --loss huber+sinkhorn --layers 1 --width 8 --epochs 1 --batch-size 64 \
  --sinkhorn-weighted-marginals --sinkhorn-on parallel -o sinkhorn_weighted.json
ok "$metnet" inspect sinkhorn_weighted.json
grep -q "second.weighted_marginals = 1" out.txt || fail "inspect: --sinkhorn-weighted-marginals is not in the weights file"
grep -q "second.compared_columns = 1" out.txt || fail "inspect: --sinkhorn-on parallel is not in the weights file"

# Bad inputs.
sed '1s/Tight_Final_SumET/Renamed_SumET/' train.csv > no_column.csv
bad "missing column 'Tight_Final_SumET'" out1.csv "$metnet" predict huber.json no_column.csv -o out1.csv
awk -F, 'NR == 3 { $5 = "nan" } { print }' OFS=, train.csv > nan.csv
bad "nan" out2.csv "$metnet" predict huber.json nan.csv -o out2.csv
bad "nan" out2.json "$metnet" train nan.csv --loss huber --epochs 1 -o out2.json
# A MeV file: every energy column scaled by 1000, then read as GeV.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) energy[i] = ($i ~ /(_ET|_EX|_EY)$|SumET|Sum_JetPU/) ; print; next }
         { for (i = 1; i <= NF; i++) if (energy[i]) $i = $i * 1000; print }' OFS=, train.csv > mev.csv
bad "looks like MeV" out3.csv "$metnet" predict huber.json mev.csv -o out3.csv
ok "$metnet" predict huber.json mev.csv --unit MeV -o out3.csv
: > empty.csv
bad "empty file" out4.csv "$metnet" predict huber.json empty.csv -o out4.csv
head -1 train.csv > header_only.csv
bad "no events" out5.csv "$metnet" predict huber.json header_only.csv -o out5.csv
# A weights file trained on another feature list (one input renamed).
sed 's/"Sum_JetPU"/"Sum_JetPU_v2"/g' huber.json > other_features.json
bad "missing column 'Sum_JetPU_v2'" out6.csv "$metnet" predict other_features.json test.npy -o out6.csv
bad "unknown event file extension" out7.txt "$metnet" predict huber.json test.npy -o out7.txt
bad "cannot open" out8.csv "$metnet" predict missing.json test.npy -o out8.csv
bad "already has a column" out9.csv "$metnet" predict huber.json predicted.csv -o out9.csv
bad "higgs not in" out10.csv "$metnet" simulate --process higgs --events 10 -o out10.csv
bad "fixed needs --mu" out11.csv "$metnet" simulate --mu-profile fixed --events 10 -o out11.csv
bad "sinkhorn-weight" out12.json "$metnet" train train.csv --loss huber --sinkhorn-weight 2 -o out12.json
bad "sinkhorn-weighted-marginals" out17.json "$metnet" train train.csv --loss huber --sinkhorn-weighted-marginals \
  -o out17.json
bad "sinkhorn-on" out18.json "$metnet" train train.csv --loss gnll --sinkhorn-on parallel -o out18.json
bad "sinkhorn-epsilon" out15.json "$metnet" train train.csv --loss gnll --sinkhorn-epsilon 0.1 -o out15.json
bad "filter.max_true_met" out13.csv "$metnet" simulate --min-true-met 300 --max-true-met 200 --events 10 -o out13.csv
bad "stop.stop_mass" out16.csv "$metnet" simulate --process stop --stop-mass 400 --neutralino-mass 300 --events 10 -o out16.csv
bad "lr-schedule" out14.json "$metnet" train train.csv --loss huber --lr-schedule linear -o out14.json

if (( failures > 0 )); then
  echo "$failures end-to-end checks failed"
  exit 1
fi
echo "all end-to-end checks passed"
