#!/usr/bin/env bash
# Runs one fuzz target with its seeds and dictionary.
#
#   fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
#
# The corpus grows in fuzz/corpus/TARGET (ignored by git); crashes land in
# fuzz/artifacts/TARGET. Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz pass its nightly-only flags (-Zsanitizer=address, ...).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:?usage: fuzz/run.sh TARGET [SECONDS] [libFuzzer flags...]}"
secs="${2:-60}"
shift $(($# < 2 ? $# : 2))
cd "$here"
mkdir -p "corpus/$target"
seeds=()
[ -d "seeds/$target" ] && seeds=("seeds/$target")
# The manifest target starts from the crate's real manifests.
[ "$target" = manifest ] && seeds+=("../tests/fixtures")
dict=()
[ -f "dicts/$target.dict" ] && dict=("-dict=$here/dicts/$target.dict")
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    "${dict[@]}" -max_total_time="$secs" -timeout=10 -print_final_stats=1 "$@"
