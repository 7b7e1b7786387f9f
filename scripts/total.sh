#!/usr/bin/env bash
# The total of `make test`: runs its steps with their output tee'd to one log, then prints one
# final line `N passed, M failed` summed over the log.
#
#   scripts/total.sh step LOG CMD [ARGS...]   run CMD, output to the terminal and appended to LOG;
#                                             a failure is recorded in LOG, and the next steps run
#   scripts/total.sh sum LOG                  print the total; exit 1 if any step failed
#
# Counted: every `test result: ... N passed; M failed; ...` line of cargo test, and pytest's
# summary line (`=== N passed, M failed, K errors in 3.2s ===`; errors count as failed). A step
# that fails without reporting a failed test (a build error, the install check) counts as one
# failed. Skipped and ignored tests are not counted.
set -uo pipefail

MARK="total.sh: step failed:"

case "${1:-}" in
step)
    [ $# -ge 3 ] || { echo "usage: $0 step LOG CMD [ARGS...]" >&2; exit 2; }
    log=$2
    shift 2
    start=$(wc -l < "$log" 2>/dev/null || echo 0)
    "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ]; then
        # did the step's own output report a failed test?
        reported=$(tail -n +"$((start + 1))" "$log" | awk '
            /^test result: / { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^failed/ && $i + 0 > 0) f = 1 }
            /^=+ .* in [0-9.]+s/ && / (failed|errors?)[ ,]/ { f = 1 }
            END { print f + 0 }')
        echo "$MARK exit $rc: $* (reported failed tests: $reported)" | tee -a "$log"
    fi
    exit 0
    ;;
sum)
    [ $# -eq 2 ] || { echo "usage: $0 sum LOG" >&2; exit 2; }
    awk -v mark="$MARK" '
        /^test result: / {
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^passed/) passed += $(i - 1)
                if ($i ~ /^failed/) failed += $(i - 1)
            }
        }
        # pytest: "=== 3 failed, 120 passed, 2 skipped, 1 error in 12.34s ==="
        /^=+ .* in [0-9.]+s/ && / (passed|failed|errors?)[ ,]/ {
            for (i = 2; i <= NF; i++) {
                w = $i; sub(/,$/, "", w)
                if (w == "passed") passed += $(i - 1)
                if (w == "failed" || w == "error" || w == "errors") failed += $(i - 1)
            }
        }
        index($0, mark) == 1 {
            steps_failed = 1
            if ($0 ~ /reported failed tests: 0\)$/) failed += 1
        }
        END {
            printf "%d passed, %d failed\n", passed, failed
            exit steps_failed ? 1 : 0
        }' "$2"
    ;;
*)
    echo "usage: $0 step LOG CMD [ARGS...] | $0 sum LOG" >&2
    exit 2
    ;;
esac
