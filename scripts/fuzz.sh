#!/usr/bin/env bash
# Coverage-guided fuzzing campaign for one target of Concentrator.Fuzz with AFL++ and SharpFuzz.
#
#   bash scripts/fuzz.sh TARGET [SECONDS]      targets: ike-message ike-chain sk-open esp-decap config ike-sa esp-open replica ike-frag radius-response ikev1-message ikev1-protect ikev1-sa
#
# Builds Concentrator.Fuzz (Release) into artifacts/fuzz/TARGET/bin, instruments Concentrator.dll with the
# `sharpfuzz` dotnet tool (SharpFuzz.CommandLine 2.3.0, installed into artifacts/fuzz/tools on first use),
# runs afl-fuzz (Debian package afl++) for SECONDS (default 300) on Concentrator.Fuzz/corpus/TARGET and prints
# executions, paths and crashes. Findings stay in artifacts/fuzz/TARGET/findings; a crash worth keeping goes
# to Concentrator.Fuzz/crashes/TARGET/ (FuzzCorpusTests replays it). Replay any file in-process with the
# uninstrumented build (the instrumented one faults outside afl-fuzz):
#   dotnet run --project Concentrator.Fuzz -- run TARGET FILE...
# libFuzzer mode (`Concentrator.Fuzz.dll TARGET --libfuzzer`) needs the libfuzzer-dotnet driver, which Debian
# does not package; this script uses AFL++ only.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-}"
seconds="${2:-300}"
case "$target" in
  ike-message|ike-chain|sk-open|esp-decap|config|ike-sa|esp-open|replica|ike-frag|radius-response|ikev1-message|ikev1-protect|ikev1-sa) ;;
  *) echo "usage: $0 TARGET [SECONDS]  (TARGET: ike-message ike-chain sk-open esp-decap config ike-sa esp-open replica ike-frag radius-response ikev1-message ikev1-protect ikev1-sa)" >&2; exit 2 ;;
esac

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
work="artifacts/fuzz/$target"
tools="artifacts/fuzz/tools"

if ! command -v afl-fuzz >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y afl++ >/dev/null
  else
    echo "afl-fuzz not found: install Debian's afl++ package (apt-get install afl++)" >&2; exit 1
  fi
fi

if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

# A fresh output each time: sharpfuzz refuses an already instrumented assembly.
rm -rf "$work/bin"
dotnet publish Concentrator.Fuzz -c Release -o "$work/bin" -nologo -v quiet
"$tools/sharpfuzz" "$work/bin/Concentrator.dll"

mkdir -p "$work"
rm -rf "$work/findings"
# dotnet is not an AFL-instrumented binary (SharpFuzz's fork server maps the shared memory itself);
# the CPU-frequency/core-dump checks do not apply on shared CI machines.
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
  AFL_NO_UI=1
status=0
afl-fuzz -i "Concentrator.Fuzz/corpus/$target" -o "$work/findings" -t 5000 -m none -V "$seconds" \
  -- dotnet "$work/bin/Concentrator.Fuzz.dll" "$target" > "$work/afl.log" 2>&1 || status=$?

stats="$work/findings/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  echo "afl-fuzz did not start (exit $status); see $work/afl.log:" >&2
  tail -n 30 "$work/afl.log" >&2
  exit 1
fi
get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(find "$work/findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$work/findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
echo "target:      $target"
echo "run time:    $(get run_time)s"
echo "executions:  $(get execs_done) ($(get execs_per_sec)/s)"
echo "corpus:      $(get corpus_count) entries, edges found $(get edges_found)"
echo "crashes:     $crashes  (saved in $work/findings/default/crashes)"
echo "hangs:       $hangs"
[ "$crashes" = 0 ]
