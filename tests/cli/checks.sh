# Shared checks of the command-line end-to-end tests; source this file.
# They count failures in `failures` and write a command's output to out.txt
# and err.txt in the current folder.
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Runs a command that must succeed.
ok() {
  if ! "$@" > out.txt 2> err.txt; then
    fail "'$*' exited with $?: $(cat err.txt)"
  fi
}

# Runs a command that must exit with 2, print PATTERN, not create OUTPUT and
# leave no temporary file in the current folder.
bad() {
  local pattern=$1 output=$2
  shift 2
  "$@" > out.txt 2> err.txt
  local code=$?
  [[ $code -eq 2 ]] || fail "'$*' exited with $code, expected 2: $(cat err.txt)"
  grep -q -- "$pattern" err.txt || fail "'$*' did not print '$pattern': $(cat err.txt)"
  [[ ! -e $output ]] || fail "'$*' left $output behind"
  ls ./*.tmp* .*.tmp* 2> /dev/null | grep -q . && fail "'$*' left a temporary file"
}
