#!/usr/bin/env bash
# bin/ckconv-mpi (issue 19, docs/scale-out.md): `mpirun -n 1, 2, 4` converts llama, mixtral and
# llava both ways into the same outputs as bin/ckconv (every tensor and attribute of the packed
# file, the params, the HF directory byte for byte), each rank writing a share of the bytes
# within 2x of the mean; a rank that fails or is killed stops the run and leaves no output.
# Run when `make test` built bin/ckconv-mpi (CKCONV_MPI) and mpirun is installed (make deps).
. "$(dirname "$0")/lib.inc"
if [ -z "${CKCONV_MPI:-}" ] || ! command -v mpirun >/dev/null 2>&1; then
	echo "skip - e2e/mpi: ${CKCONV_MPI:+mpirun is not installed}${CKCONV_MPI:-bin/ckconv-mpi not built (no mpicc or hdf5-openmpi, or a sanitizer build)}: make deps installs Open MPI"
	exit 0
fi
MPI=$(realpath "$CKCONV_MPI")
G="$ROOT/tests/golden"
ROOTOK=(); [ "$(id -u)" = 0 ] && ROOTOK=(--allow-run-as-root)
mpi() { # N ARGS...: ckconv-mpi on N ranks, its stderr into $T/err
	local ranks=$1; shift
	mpirun "${ROOTOK[@]}" --oversubscribe -n "$ranks" "$MPI" "$@" 2>"$T/err"
}
# shares N ERRFILE: N "rank r of N wrote" lines, each rank within 2x of the mean
shares() {
	$PY - "$@" <<'PY'
import re, sys
n, lines = int(sys.argv[1]), open(sys.argv[2]).read()
r = [float(x) for x in re.findall(r"rank \d+ of %d wrote \d+ bytes in \d+ tensors \(([\d.]+)x the mean\)" % n, lines)]
sys.exit(0 if len(r) == n and max(r) <= 2.0 else f"shares {r}\n{lines}")
PY
}
SHARD=40KB # several shards per model, so CS -> HF has something to split
for m in llama mixtral llava; do
	rm -rf "$T/o" && mkdir -p "$T/o"
	"$CKCONV" convert "$G/$m/hf" -o "$T/o/x.mdl" -q && mv "$T/o" "$T/ref-cs" || { notok "$m: serial HF -> CS"; continue; }
	mkdir -p "$T/o" && "$CKCONV" convert "$T/ref-cs/x.mdl" -o "$T/o/hf" --hf-shard-size $SHARD -q &&
		mv "$T/o" "$T/ref-hf" || { notok "$m: serial CS -> HF"; continue; }
	for r in 1 2 4; do
		rm -rf "$T/o" && mkdir -p "$T/o"
		check "$m: HF -> CS on $r ranks" mpi $r convert "$G/$m/hf" -o "$T/o/x.mdl" --no-progress
		check "$m: $r ranks: every tensor equals the serial run's (ckconv diff)" "$CKCONV" diff "$T/ref-cs/x.mdl" "$T/o/x.mdl"
		check "$m: $r ranks: every attribute too, and the params" sh -c "$CHECK mdl-same '$T/ref-cs/x.mdl' '$T/o/x.mdl' && cmp '$T/ref-cs/x.yaml' '$T/o/x.yaml'"
		[ $r -gt 1 ] && check "$m: $r ranks: each wrote within 2x of the mean (HF -> CS)" shares $r "$T/err"
		rm -rf "$T/o" && mkdir -p "$T/o"
		check "$m: CS -> HF on $r ranks" mpi $r convert "$T/ref-cs/x.mdl" -o "$T/o/hf" --hf-shard-size $SHARD --no-progress
		check "$m: $r ranks: the HF directory is the serial run's, byte for byte" diff -r "$T/ref-hf/hf" "$T/o/hf"
		check "$m: $r ranks: ckconv diff agrees" "$CKCONV" diff "$T/ref-hf/hf" "$T/o/hf"
		[ $r -gt 1 ] && check "$m: $r ranks: each wrote within 2x of the mean (CS -> HF)" shares $r "$T/err"
	done
	rm -rf "$T/ref-cs" "$T/ref-hf"
done

# DPO (a wrap with `copy`): each copy written by the rank that writes its original
"$CKCONV" convert "$G/gpt2/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/dpo1.mdl" -q
check "dpo: HF -> CS on 3 ranks" mpi 3 convert "$G/gpt2/hf" --model dpo --tgt-fmt cs-2.9-dpo -o "$T/dpo3.mdl" --no-progress
check "dpo: 3 ranks: every tensor, copy and attribute equals the serial run's" $CHECK mdl-same "$T/dpo1.mdl" "$T/dpo3.mdl"

rm -rf "$T/o" && mkdir -p "$T/o"
mpi 2 convert "$G/llama/hf" -o "$T/o/x.mdl" --compress lz4 -q; rc=$?
check "--compress lz4 on 2 ranks is refused plainly (exit $rc), before any output" sh -c "[ $rc -eq 1 ] && grep -q 'compress lz4 is serial only' '$T/err' && [ -z \"\$(ls -A '$T/o')\" ]"

# Failures: nothing at the output path, no temporaries beside it, a non-zero exit.
${CC:-cc} -shared -fPIC -O1 -o "$T/shim.so" "$ROOT/tests/fault/shim.c" -ldl || { notok "build the fault shim"; exit 1; }
left() { ls -A "$T/o" 2>/dev/null; }
rm -rf "$T/o" && mkdir -p "$T/o"
mpirun "${ROOTOK[@]}" --oversubscribe -n 1 "$MPI" convert "$G/llama/hf" -o "$T/o/x.mdl" -q : \
	-n 1 env CKFAULT_READ_EIO_AFTER=2 LD_PRELOAD="$T/shim.so" "$MPI" convert "$G/llama/hf" -o "$T/o/x.mdl" -q >/dev/null 2>"$T/err"
rc=$?
check "a read error on rank 1 stops the run (exit $rc) and says why" sh -c "[ $rc -ne 0 ] && grep -q 'Input/output error' '$T/err'"
check "... and leaves nothing in the output directory" test -z "$(left)"

# A rank killed mid-run (slowed down so that it is mid-run): no packed file that looks complete.
rm -rf "$T/o" && mkdir -p "$T/o"
mpirun "${ROOTOK[@]}" --oversubscribe -n 1 env CKFAULT_SLOW_MS=80 LD_PRELOAD="$T/shim.so" "$MPI" convert "$G/llama/hf" -o "$T/o/x.mdl" -q : \
	-n 1 sh -c 'echo $$ > "$0"; exec env CKFAULT_SLOW_MS=80 LD_PRELOAD="$1" "$2" convert "$3" -o "$4" -q' \
	"$T/pid" "$T/shim.so" "$MPI" "$G/llama/hf" "$T/o/x.mdl" >/dev/null 2>"$T/err" & job=$!
for i in $(seq 100); do [ -s "$T/pid" ] && break; sleep 0.1; done # rank 1 has started
sleep 0.4; kill -9 "$(cat "$T/pid")"; wait $job; rc=$?
check "a rank killed mid-run fails the run (exit $rc)" test $rc -ne 0
check "... and leaves no x.mdl" test ! -e "$T/o/x.mdl"
complete=$(for f in "$T"/o/* "$T"/o/.[!.]*; do [ -f "$f" ] && $PY -c 'import h5py, sys; sys.exit(0 if h5py.File(sys.argv[1], "r").attrs.get("__SUCCESS__") else 1)' "$f" 2>/dev/null && echo "$f"; done)
check "... nor any file with __SUCCESS__ ($complete)" test -z "$complete"
echo "$n passed"
