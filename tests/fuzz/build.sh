#!/usr/bin/env bash
# build.sh: builds the libFuzzer targets with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer.
#
#   tests/fuzz/build.sh [OUTDIR]      (default: build-fuzz in the repository)
#
# gives OUTDIR/fuzz_records, OUTDIR/fuzz_marshal and OUTDIR/make_seeds.
# Run one (new inputs go to the first directory, the committed seeds are
# only read):
#
#   OUTDIR/fuzz_records -max_total_time=60 OUTDIR/corpus/fuzz_records tests/fuzz/corpus/fuzz_records
#
# A crash leaves crash-<sha1> in the working directory; run the target on
# that file alone to reproduce it. Needs clang and its libFuzzer runtime
# (Debian: clang, libclang-rt-14-dev) and libffi-dev.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/build-fuzz}"
cc="${FUZZ_CC:-clang}"
mkdir -p "$out"

if ! command -v "$cc" >/dev/null; then
	echo "build.sh: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

# -O1 and frame pointers: fast enough to fuzz, stacks that read well. The
# sanitizers do not recover, so every report is a crash libFuzzer keeps.
cflags=(-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE -fno-strict-aliasing
	-Wall -Wextra
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
	-I"$root/include" -I"$root/src/common" -I"$root/src/lib" -I"$root/src/worker"
	$(pkg-config --cflags libffi 2>/dev/null || true))
# The worker but its main.c, whose place worker_stubs.c takes. The
# --wrap'ed functions abort (worker_stubs.c): nothing a record asks for
# is ever done.
worker=("$root/src/worker/slot.c" "$root/src/worker/dispatch.c" "$root/src/worker/loader.c"
	"$root/src/worker/faults.c" "$root/src/worker/kernel_api.c" "$root/src/common/wait.c"
	"$root/src/common/hmem.c" "$here/worker_stubs.c")
libs=(-Wl,--wrap=ffi_call,--wrap=dlopen,--wrap=process_vm_readv,--wrap=process_vm_writev
	$(pkg-config --libs libffi 2>/dev/null || echo -lffi) -ldl -lpthread)

"$cc" "${cflags[@]}" -o "$out/fuzz_records" "$here/fuzz_records.c" "${worker[@]}" "${libs[@]}"
"$cc" "${cflags[@]}" -o "$out/fuzz_marshal" "$here/fuzz_marshal.c" \
	"$root/src/lib/args.c" "$root/src/lib/handle.c" "$root/src/lib/error.c" "${worker[@]}" "${libs[@]}"
# Writes the seed inputs (tests/fuzz/corpus is its output, committed).
"$cc" -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I"$root/include" -I"$root/src/common" \
	-o "$out/make_seeds" "$here/make_seeds.c"
