# Functions shared by scripts/setup.sh, scripts/board_lane.sh and scripts/test.sh (sourced).
#
# The stamped steps need REPO, STAMPS (the stamp directory), STEPS_FORCE (1 redoes every step)
# and a `log` function of the sourcing script.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Hash of the given strings and the contents of the given files (in the given order).
hash_inputs() {
    local item
    for item in "$@"; do
        if [[ -f "$item" ]]; then
            printf 'file %s\n' "${item#"$REPO"/}"
            sha256sum < "$item"
        else
            printf 'text %s\n' "$item"
        fi
    done | sha256sum | cut -c1-32
}

# Files below the given directories, sorted, NUL-free (paths in this repo have no newlines).
files_under() {
    local dir
    for dir in "$@"; do
        [[ -d "$dir" ]] && find "$dir" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print
    done | LC_ALL=C sort
}

stamp_ok() { [[ "${STEPS_FORCE:-0}" != 1 && -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" > "$STAMPS/$1"; }

# run_step NAME KEY FUNCTION [ARG...]: run FUNCTION ARG... unless the stamp NAME equals KEY;
# print the time. A FUNCTION that sets NO_STAMP=1 failed without being fatal: no stamp, so the
# next run retries it.
run_step() {
    local name="$1" key="$2" func="$3" start
    shift 3
    start="$(now)"
    if stamp_ok "$name" "$key"; then
        log "$(printf '%-14s up to date  %5ss' "$name" "$(elapsed "$start")")"
        return 0
    fi
    rm -f "$STAMPS/$name"
    NO_STAMP=0
    "$func" "$@"
    if ((NO_STAMP)); then
        log "$(printf '%-14s FAILED      %5ss  (not fatal, retried next run)' "$name" "$(elapsed "$start")")"
        return 0
    fi
    stamp_set "$name" "$key"
    log "$(printf '%-14s done        %5ss' "$name" "$(elapsed "$start")")"
}

# Sets PYTEST_PATHS: test/, unless the arguments (pytest's) name test paths themselves.
pytest_paths() {
    local arg
    PYTEST_PATHS=(test/)
    for arg in "$@"; do
        [[ "$arg" == -* ]] && continue
        if [[ -e "${arg%%::*}" || -e "$REPO/${arg%%::*}" ]]; then
            PYTEST_PATHS=()
            return 0
        fi
    done
}
