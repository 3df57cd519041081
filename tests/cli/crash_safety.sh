#!/usr/bin/env bash
# Crash safety of the metnet binary, checked by killing it with SIGKILL.
#
# 1. `metnet train` with a checkpoint every few batches is killed at five
#    seeded points (a delay after the start, after the checkpoint changed a
#    random number of times, and the moment a temporary checkpoint or weights
#    file appears). After each kill the checkpoint must be absent or load with
#    read_checkpoint, and the weights file absent or complete. `--resume` then
#    runs to the end, and the weights file must equal that of an uninterrupted
#    run without checkpoints bit for bit. The comparison is byte for byte on
#    every line but the command and date of the metadata. That is a bit-level
#    comparison because the writer prints each number as the shortest text
#    that parses back to the same bits.
# 2. `metnet simulate` and `metnet predict` are killed while they write their
#    output. The destination must then be the previous file or the complete
#    new one, byte for byte, or absent when there was none before.
#
# A process killed while it writes leaves its temporary file behind, named
# .<destination name>.tmp-<16 hex digits> next to the destination
# (data/atomic_file.hpp); no other file may appear. The next run writes its
# own temporary file under a new name and ignores the old ones: it must still
# produce the expected file and leave no temporary file of its own.
#
# The test never asserts how far a run got before the kill: a run that ends
# before its kill only has to leave complete files.
# Usage: crash_safety.sh METNET_BINARY CHECKPOINT_CHECK_BINARY WORK_DIR [SEED]
set -uo pipefail
metnet=$(realpath "$1")
checkpoint_check=$(realpath "$2")
work=$3
seed=${4:-20261204}
RANDOM=$seed
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
failures=0
kills=0
interrupted=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs a command that must succeed.
ok() {
  "$@" > out.txt 2> err.txt
  local code=$?
  (( code == 0 )) || fail "'$*' exited with $code: $(cat err.txt)"
}

# Runs a setup command and stops the test if it fails, because later steps need its output.
setup() {
  "$@" > out.txt 2> err.txt
  local code=$?
  if (( code != 0 )); then
    echo "FAIL: setup step '$*' exited with $code: $(cat err.txt)"
    exit 1
  fi
}

# Prints what changes when a file is replaced: its inode and change time.
file_version() {
  stat -c '%i %z' "$1" 2> /dev/null || echo absent
}

# Fails unless every hidden file in the work directory is a temporary file of
# one of the destinations given as arguments.
check_temporaries() {
  local file name allowed destination
  for file in .[!.]*; do
    [[ -e $file ]] || continue
    allowed=0
    for destination in "$@"; do
      name="^\\.${destination//./\\.}\\.tmp-[0-9a-f]{16}$"
      [[ $file =~ $name ]] && allowed=1
    done
    (( allowed )) || fail "unexpected file '$file' after a kill"
  done
}

# Prints the number of temporary files of DESTINATION.
count_temporaries() {
  local file count=0
  for file in ".$1".tmp-*; do
    [[ -e $file ]] && count=$((count + 1))
  done
  echo "$count"
}

# Starts a command in the background and kills it with SIGKILL at the point
# that MODE selects, then sets `status` to its exit status (137 when killed):
#   delay SECONDS        after that many seconds
#   versions N FILE      once FILE was seen to change N times (polled every
#                        5 ms, so several replacements in between count once)
#   temporary NAME FILE  once a new temporary file .NAME.tmp-* appears or,
#                        if the poll misses it, once FILE was seen to change
#                        10 times (no fallback when FILE is empty)
# Every mode kills at once when the command has already ended.
run_and_kill() {
  local mode=$1 argument=$2 file=${3:-}
  shift 3
  local -A known=()
  local temporary
  for temporary in ."$argument".tmp-*; do
    known[$temporary]=1
  done

  "$@" > kill_out.txt 2> kill_err.txt &
  local pid=$! deadline=$((SECONDS + 60))

  case $mode in
    delay)
      sleep "$argument"
      ;;
    versions)
      local previous current changes=0
      previous=$(file_version "$file")
      while (( changes < argument )) && kill -0 "$pid" 2> /dev/null && (( SECONDS < deadline )); do
        current=$(file_version "$file")
        if [[ $current != "$previous" ]]; then
          changes=$((changes + 1))
          previous=$current
        fi
        sleep 0.005
      done
      ;;
    temporary)
      # A busy loop without sleep, because a small checkpoint is written in about a millisecond.
      # It checks FILE only every 500 polls, because stat runs as a process.
      local seen=0 polls=0 changes=0 previous current
      previous=$(file_version "$file")
      while (( !seen )) && kill -0 "$pid" 2> /dev/null && (( SECONDS < deadline )); do
        for temporary in ."$argument".tmp-*; do
          [[ -e $temporary && -z ${known[$temporary]:-} ]] && seen=1
        done
        polls=$((polls + 1))
        if [[ -n $file ]] && (( polls % 500 == 0 )); then
          current=$(file_version "$file")
          [[ $current != "$previous" ]] && changes=$((changes + 1))
          previous=$current
          (( changes >= 10 )) && break
        fi
      done
      ;;
  esac

  kill -KILL "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  status=$?
  kills=$((kills + 1))
  if (( status == 137 )); then
    interrupted=$((interrupted + 1))
  elif (( status != 0 )); then
    fail "'$*' exited with $status instead of being killed: $(cat kill_err.txt)"
  fi
}

# Fails unless FILE is absent or equals one of the EXPECTED files byte for byte.
check_absent_or_one_of() {
  local file=$1 expected
  shift
  [[ -e $file ]] || return 0
  for expected in "$@"; do
    cmp -s "$file" "$expected" && return 0
  done
  fail "$file after a kill equals none of: $*"
}

# Prints a weights file without the command and date of its metadata.
weights_without_provenance() {
  sed -e '/^  "metadata": /s/"command":"[^"]*",//' -e '/^  "metadata": /s/"date":"[^"]*",//' "$1"
}

# --- Training killed and resumed -----------------------------------------
setup "$metnet" simulate --process ttbar --events 4000 --seed 7 -o train.csv
training=(train train.csv --loss huber --layers 3 --width 64 --epochs 6 --batch-size 16 --seed 3)
setup "$metnet" "${training[@]}" -o reference.json
resumable=("${training[@]}" --checkpoint checkpoint.bin --checkpoint-every 4 --resume -o resumed.json)

# The kill points, drawn from the seed: 0 to 0.4 s after the start, the
# moment a checkpoint is being written, after 1 to 25 checkpoint versions
# (twice), and the moment the weights file is being written.
printf -v start_delay '0.%03d' $((RANDOM % 400))
kill_modes=("delay" "temporary" "versions" "versions" "temporary")
kill_arguments=("$start_delay" "checkpoint.bin" "$((RANDOM % 25 + 1))" "$((RANDOM % 25 + 1))" "resumed.json")
for k in "${!kill_modes[@]}"; do
  run_and_kill "${kill_modes[k]}" "${kill_arguments[k]}" checkpoint.bin "$metnet" "${resumable[@]}"
  echo "train kill $((k + 1)) (${kill_modes[k]} ${kill_arguments[k]}): exit status $status"
  if [[ -e checkpoint.bin ]] && ! "$checkpoint_check" checkpoint.bin reference.json; then
    fail "train kill $((k + 1)) left a checkpoint that does not load"
  fi
  if [[ -e resumed.json ]] && ! "$metnet" inspect resumed.json > /dev/null 2> err.txt; then
    fail "train kill $((k + 1)) left a weights file that does not load: $(cat err.txt)"
  fi
  check_temporaries checkpoint.bin resumed.json
  (( status == 0 )) && break
done

checkpoint_leftovers=$(count_temporaries checkpoint.bin)
weights_leftovers=$(count_temporaries resumed.json)
ok "$metnet" "${resumable[@]}"
if ! cmp -s <(weights_without_provenance reference.json) <(weights_without_provenance resumed.json); then
  fail "the resumed weights differ from the uninterrupted run: $(diff <(weights_without_provenance reference.json) \
    <(weights_without_provenance resumed.json) | cut -c1-200 | head -4)"
fi
[[ $(count_temporaries checkpoint.bin) -eq $checkpoint_leftovers ]] || fail "the resumed run left a temporary checkpoint"
[[ $(count_temporaries resumed.json) -eq $weights_leftovers ]] || fail "the resumed run left a temporary weights file"
echo "training: $interrupted of $kills kills interrupted a run; leftover temporary files:" \
  "$checkpoint_leftovers checkpoint, $weights_leftovers weights"

# --- simulate and predict killed while they write --------------------------
# The new content each killed command writes, from uninterrupted runs.
simulation=(simulate --process zmumu --events 20000 --seed 11)
setup "$metnet" "${simulation[@]}" -o expected_events.csv
setup "$metnet" "${simulation[@]}" -o expected_events.npy
setup "$metnet" simulate --process ttbar --events 300 --seed 12 -o small.csv
setup "$metnet" predict reference.json expected_events.csv -o expected_predicted.csv
setup "$metnet" predict reference.json small.csv -o previous_predicted.csv

# Each case: destination, previous content ("none" for no file), kill mode,
# kill argument, then the command without -o.
printf -v delay '0.%03d' $((RANDOM % 500))
cases=(
  "events.csv small.csv temporary events.csv simulate"
  "events.csv small.csv delay $delay simulate"
  "events.npy none temporary events.npy simulate"
  "predicted.csv previous_predicted.csv temporary predicted.csv predict"
  "predicted.csv previous_predicted.csv delay $delay predict"
)
for entry in "${cases[@]}"; do
  read -r destination previous mode argument command <<< "$entry"
  if [[ $command == simulate ]]; then
    arguments=("${simulation[@]}")
    expected=expected_events.${destination##*.}
  else
    arguments=(predict reference.json expected_events.csv)
    expected=expected_predicted.csv
  fi
  rm -f "$destination"
  [[ $previous == none ]] || cp "$previous" "$destination"
  run_and_kill "$mode" "$argument" "" "$metnet" "${arguments[@]}" -o "$destination"
  echo "$command -o $destination killed ($mode $argument): exit status $status"
  if [[ $previous == none ]]; then
    check_absent_or_one_of "$destination" "$expected"
  else
    [[ -e $destination ]] || fail "$command -o $destination removed the previous file"
    check_absent_or_one_of "$destination" "$previous" "$expected"
  fi
  (( status == 0 )) && ! cmp -s "$destination" "$expected" && fail "$command -o $destination ended without the new file"
  check_temporaries checkpoint.bin resumed.json events.csv events.npy predicted.csv

  # The next run ignores the temporary files left behind and replaces the file.
  leftovers=$(count_temporaries "$destination")
  ok "$metnet" "${arguments[@]}" -o "$destination"
  cmp -s "$destination" "$expected" || fail "$command -o $destination after a kill wrote another file"
  [[ $(count_temporaries "$destination") -eq $leftovers ]] || fail "$command -o $destination left a temporary file"
done

echo "all: $interrupted of $kills kills interrupted a run"
if (( failures > 0 )); then
  echo "$failures crash-safety checks failed"
  exit 1
fi
echo "all crash-safety checks passed"
