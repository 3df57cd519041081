#!/usr/bin/env bash
# End-to-end run of `metnet evaluate` on tiny simulated samples and a tiny
# Gaussian NLL model. It checks the tables and their columns, and recomputes
# one resolution bin and one muon selection with awk from the event files.
# It also checks the bootstrap and the background choice. Bad inputs must
# exit with 2, print a message naming the problem and leave no output folder.
# With --plots it instead renders the figures with PYTHON and checks that the
# ratio panels and hatched bands equal the table values; it exits with 77
# (skipped) when PYTHON has no numpy or matplotlib.
# Usage: evaluate_end_to_end.sh METNET_BINARY WORK_DIR PYTHON PLOT_SCRIPT [--plots]
set -uo pipefail
metnet=$1
work=$2
python=$3
plot_script=$4
mode=${5:-}
here=$(cd "$(dirname "$0")" && pwd)

if [[ $mode == --plots ]] && ! "$python" -c "import matplotlib, numpy" 2> /dev/null; then
  echo "skipped: $python cannot import matplotlib and numpy"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
# shellcheck source=tests/cli/checks.sh
source "$here/checks.sh"

# Prints the value of COLUMN in data row ROW (1 = first row after the header) of a CSV file.
cell() {
  awk -F, -v column="$2" -v row="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == column) c = i; next }
    NR == row + 1 { print $c }' "$1"
}

# Exits 0 when |A - B| <= TOLERANCE * |B|.
close_to() {
  awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= t * m) }'
}

ok "$metnet" simulate --process ttbar --events 3000 --seed 1 -o train.csv
ok "$metnet" simulate --process ttbar --events 2000 --mu-profile uniform --seed 2 -o ttbar.csv
ok "$metnet" simulate --process zmumu --events 2000 --mu-profile uniform --seed 3 -o zmumu.csv
ok "$metnet" simulate --process ww --events 1000 --mu-profile uniform --seed 4 -o ww.csv
ok "$metnet" train train.csv --loss gnll --layers 1 --width 16 --epochs 1 --batch-size 256 -o gnll.json

if [[ $mode == --plots ]]; then
  ok "$metnet" evaluate ttbar.csv zmumu.csv ww.csv --weights gnll.json --background zmumu --background ww \
    -o figures --plots --python "$python" --plot-script "$plot_script"
  for figure in ttbar_resolution_vs_mu.png ttbar_resolution_vs_true_met.png zmumu_resolution_vs_npv.png \
    ttbar_linearity.png ttbar_met_distribution.png significance_METNet_Sig.png significance_Tight_Sig.png \
    significance_roc_ttbar.png significance_roc_ttbar_vs_ww.png; do
    [[ -s figures/$figure ]] || fail "--plots did not write $figure"
  done
  [[ ! -e figures/significance_roc_zmumu_vs_ww.png ]] || fail "a background was drawn as a signal"
  ok "$python" "$plot_script" figures --record plotted.json
  ok "$python" "$here/check_plotted.py" figures plotted.json
  [[ $failures -eq 0 ]] || { echo "$failures plot checks failed"; exit 1; }
  echo "all plot checks passed"
  exit 0
fi

# The tables and their columns.
ok "$metnet" evaluate ttbar.csv zmumu.csv ww.csv --weights gnll.json -o out
for process in ttbar zmumu ww; do
  for table in resolution_vs_true_met resolution_vs_mu resolution_vs_npv resolution_vs_sumet linearity \
    met_distribution met_distances; do
    [[ -s out/${process}_$table.csv ]] || fail "evaluate did not write ${process}_$table.csv"
  done
done
for table in summary METNet_Sig_distribution Tight_Sig_distribution ttbar_vs_zmumu_METNet_Sig_scan \
  ttbar_vs_zmumu_METNet_Sig_roc ww_vs_zmumu_Tight_Sig_roc; do
  [[ -s out/significance_$table.csv ]] || fail "evaluate did not write significance_$table.csv"
done
head -1 out/ttbar_resolution_vs_mu.csv |
  grep -q "^bin_low,bin_high,bin_centre,events,sum_weights,Tight_rms,Tight_rms_error,Tight_ratio_to_Tight,Loose_rms," ||
  fail "resolution table: unexpected columns: $(head -1 out/ttbar_resolution_vs_mu.csv)"
head -1 out/ttbar_resolution_vs_mu.csv | grep -q ",METNet_rms,METNet_rms_error,METNet_ratio_to_Tight$" ||
  fail "resolution table: no METNet columns at the end"
head -1 out/ttbar_linearity.csv | grep -q "^bin_low,bin_high,bin_centre,Tight_events,Tight_linearity,Tight_linearity_error," ||
  fail "linearity table: unexpected columns"
[[ $(head -1 out/significance_summary.csv) == "signal,background,score,auc,signal_efficiency_at_background_0.01,signal_efficiency_at_background_0.1,max_significance,cut_at_max" ]] ||
  fail "significance summary: unexpected columns"
[[ $(wc -l < out/ttbar_resolution_vs_mu.csv) -eq 17 ]] || fail "resolution vs mu: expected 16 bins and a header"

# Tight and METNet RMS in mu bin 6 of ttbar, recomputed from the event file
# and from the predictions of `metnet predict` with the same weights.
ok "$metnet" predict gnll.json ttbar.csv -o ttbar_predicted.csv
low=$(cell out/ttbar_resolution_vs_mu.csv bin_low 6)
high=$(cell out/ttbar_resolution_vs_mu.csv bin_high 6)
read -r events tight metnet_rms < <(awk -F, -v low="$low" -v high="$high" '
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $c["ActMu"] >= low && $c["ActMu"] < high {
    n++
    tx = $c["Tight_Final_EX"] - $c["True_EX"]; ty = $c["Tight_Final_EY"] - $c["True_EY"]
    nx = $c["METNet_EX"] - $c["True_EX"]; ny = $c["METNet_EY"] - $c["True_EY"]
    tight += tx * tx + ty * ty; network += nx * nx + ny * ny
  }
  END { printf "%d %.10g %.10g\n", n, sqrt(tight / (2 * n)), sqrt(network / (2 * n)) }' ttbar_predicted.csv)
[[ $events -gt 50 ]] || fail "mu bin [$low, $high) holds only $events events"
[[ $(cell out/ttbar_resolution_vs_mu.csv events 6) == "$events" ]] ||
  fail "mu bin [$low, $high): table has $(cell out/ttbar_resolution_vs_mu.csv events 6) events, awk counts $events"
close_to "$(cell out/ttbar_resolution_vs_mu.csv Tight_rms 6)" "$tight" 1e-5 ||
  fail "Tight RMS in mu bin [$low, $high): table $(cell out/ttbar_resolution_vs_mu.csv Tight_rms 6), awk $tight"
close_to "$(cell out/ttbar_resolution_vs_mu.csv METNet_rms 6)" "$metnet_rms" 1e-4 ||
  fail "METNet RMS in mu bin [$low, $high): table $(cell out/ttbar_resolution_vs_mu.csv METNet_rms 6), awk $metnet_rms"
close_to "$(cell out/ttbar_resolution_vs_mu.csv METNet_ratio_to_Tight 6)" \
  "$(awk -v a="$metnet_rms" -v b="$tight" 'BEGIN { printf "%.10g", a / b }')" 1e-4 ||
  fail "METNet / Tight in mu bin [$low, $high) disagrees with awk"

# Bootstrap errors: the same for a seed, other than the analytic ones, RMS unchanged.
ok "$metnet" evaluate ttbar.csv --bootstrap 50 --bootstrap-seed 3 -o boot1
grep -q "bootstrap, 50 replicas, seed 3" out.txt || fail "--bootstrap: the summary does not name the error method"
ok "$metnet" evaluate ttbar.csv --bootstrap 50 --bootstrap-seed 3 -o boot2
ok "$metnet" evaluate ttbar.csv -o analytic
cmp -s boot1/ttbar_resolution_vs_mu.csv boot2/ttbar_resolution_vs_mu.csv || fail "--bootstrap: same seed, other errors"
[[ $(cell boot1/ttbar_resolution_vs_mu.csv Tight_rms 6) == "$(cell analytic/ttbar_resolution_vs_mu.csv Tight_rms 6)" ]] ||
  fail "--bootstrap changed the RMS"
bootstrap_error=$(cell boot1/ttbar_resolution_vs_mu.csv Tight_rms_error 6)
analytic_error=$(cell analytic/ttbar_resolution_vs_mu.csv Tight_rms_error 6)
[[ $bootstrap_error != "$analytic_error" ]] || fail "--bootstrap: the errors are the analytic ones"
close_to "$bootstrap_error" "$analytic_error" 0.5 ||
  fail "--bootstrap: error $bootstrap_error is far from the analytic $analytic_error"

# Muon selection: zmumu events with N_Muons == 2 and <mu> inside the binning.
ok "$metnet" evaluate ttbar.csv zmumu.csv --zmumu-muons 2 -o muons
two_muons=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["N_Muons"] == 2 { n++ } END { print n }' zmumu.csv)
grep -q "zmumu: kept $two_muons of 2000 events with N_Muons == 2" out.txt || fail "--zmumu-muons: $(cat out.txt)"
in_range=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $c["N_Muons"] == 2 && $c["ActMu"] >= 10 && $c["ActMu"] < 60 { n++ } END { print n }' zmumu.csv)
binned=$(awk -F, 'NR > 1 { n += $4 } END { print n }' muons/zmumu_resolution_vs_mu.csv)
[[ $binned == "$in_range" ]] || fail "--zmumu-muons 2: $binned events in the mu bins, awk counts $in_range"
[[ $two_muons -lt 2000 && $two_muons -gt 1000 ]] || fail "--zmumu-muons 2: implausible count $two_muons of 2000"

# Background choice: ww and zmumu as backgrounds, and ww as a separate file.
# The event files after --background must stay positional arguments.
ok "$metnet" evaluate --background ww --background zmumu ttbar.csv zmumu.csv ww.csv --weights gnll.json -o backgrounds
for pair in ttbar_vs_ww ttbar_vs_zmumu; do
  [[ -s backgrounds/significance_${pair}_METNet_Sig_scan.csv ]] || fail "--background: no $pair scan"
done
[[ ! -e backgrounds/significance_zmumu_vs_ww_METNet_Sig_scan.csv ]] || fail "--background: zmumu was used as a signal"
scores=$(ls backgrounds/significance_*_distribution.csv | wc -l)
[[ $scores -ge 2 && $(grep -c "^ttbar,ww," backgrounds/significance_summary.csv) -eq $scores ]] ||
  fail "--background: expected ttbar vs ww for each of the $scores scores"
ok "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json --background-file ww.csv -o background_file
ok "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json --background zmumu --background-file ww.csv \
  --background-yield 5 --background-yield 0 -o yields
[[ $(cell yields/significance_ttbar_vs_zmumu_METNet_Sig_scan.csv background_yield 1) == 5 ]] ||
  fail "--background-yield 5: not the zmumu yield before cuts"
[[ $(cell yields/significance_ttbar_vs_ww_METNet_Sig_scan.csv background_yield 1) == 1000 ]] ||
  fail "--background-yield 0: the ww yield before cuts is not its event count"
auc_process=$(grep "^ttbar,ww,METNet_Sig," backgrounds/significance_summary.csv | cut -d, -f4)
auc_file=$(grep "^ttbar,ww,METNet_Sig," background_file/significance_summary.csv | cut -d, -f4)
[[ -n $auc_file && $auc_file == "$auc_process" ]] ||
  fail "--background-file ww.csv: AUC '$auc_file', --background ww: '$auc_process'"
grep -q "^zmumu,ww," background_file/significance_summary.csv ||
  fail "--background-file: zmumu should be a signal when only the file is a background"

# Bad inputs: exit 2, a message naming the problem, no output folder.
sed '1s/True_EX/Truth_EX/' ttbar.csv > no_truth.csv
bad "missing truth column 'True_EX'" bad1 "$metnet" evaluate no_truth.csv -o bad1
: > empty.csv
bad "empty file" bad2 "$metnet" evaluate empty.csv -o bad2
head -1 ttbar.csv > header_only.csv
bad "no events" bad3 "$metnet" evaluate header_only.csv -o bad3
bad "unknown process 'higgs'" bad4 "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json --background higgs -o bad4
bad "no ww events" bad5 "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json --background ww -o bad5
bad "need a METNetSig score" bad6 "$metnet" evaluate ttbar.csv zmumu.csv --background zmumu -o bad6
bad "--bootstrap" bad7 "$metnet" evaluate ttbar.csv --bootstrap 1 -o bad7
bad "no Z -> mu mu events" bad8 "$metnet" evaluate ttbar.csv --zmumu-muons 2 -o bad8
bad "one value per background" bad9 "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json \
  --background-yield 10 --background-yield 20 -o bad9
cut -d, -f1-5 ww.csv > few_columns.csv
bad "few_columns.csv" bad10 "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json \
  --background-file few_columns.csv -o bad10
# Tenacious_Sig is a score but no network input.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "Tenacious_Sig") c = i }
  { out = ""; for (i = 1; i <= NF; i++) if (i != c) out = out (out == "" ? "" : ",") $i; print out }' ww.csv > no_sig.csv
bad "missing score column 'Tenacious_Sig'" bad11 "$metnet" evaluate ttbar.csv zmumu.csv --weights gnll.json \
  --background-file no_sig.csv -o bad11

if (( failures > 0 )); then
  echo "$failures evaluate checks failed"
  exit 1
fi
echo "all evaluate checks passed"
