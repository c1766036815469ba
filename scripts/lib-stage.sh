# Sourced by scripts/test.sh and scripts/ci-setup.sh: run named stages, time
# each, and print the split at the end (CI's time limit is watched by it).
_stage_names=()
_stage_secs=()

# stage NAME CMD...: run CMD as one timed stage; a failure stops the run
# after printing the split so far.
stage() {
	local name=$1 start rc
	shift
	echo "== $name"
	start=$(date +%s)
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	_stage_names+=("$name")
	_stage_secs+=($(($(date +%s) - start)))
	if [ $rc -ne 0 ]; then
		echo "== $name failed (exit $rc)" >&2
		stage_summary >&2
		exit $rc
	fi
}

stage_summary() {
	local i total=0
	echo "== stage times"
	for i in "${!_stage_names[@]}"; do
		printf '   %-40s %5ss\n' "${_stage_names[$i]}" "${_stage_secs[$i]}"
		total=$((total + _stage_secs[$i]))
	done
	printf '   %-40s %5ss\n' total "$total"
}
