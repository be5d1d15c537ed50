#!/bin/sh
# Stand-in for xl / xm / xentop in tests: replays recorded outputs instead of asking Xen.
# @REPLAY_DIR@ is replaced by the test's directory when the script is installed.
# For the arguments "A B" it prints the file "A_B.N" (N = how many times these arguments
# were used so far, so consecutive runs may differ) or else "A_B", with the exit status
# in "<file>.rc", stderr text in "<file>.err", and a delay in seconds in "<file>.sleep".
dir="@REPLAY_DIR@"
key=$(basename "$0")_$(printf '%s' "$*" | tr ' ' '_')
counter="$dir/.count.$key"
n=$(( $(cat "$counter" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$counter"
for candidate in "$dir/$key.$n" "$dir/$key"; do
  if [ -f "$candidate" ]; then
    [ -f "$candidate.sleep" ] && sleep "$(cat "$candidate.sleep")"
    [ -f "$candidate.err" ] && cat "$candidate.err" >&2
    cat "$candidate"
    exit "$(cat "$candidate.rc" 2>/dev/null || echo 0)"
  fi
done
echo "stand-in: nothing recorded for '$(basename "$0") $*' in $dir" >&2
exit 1
