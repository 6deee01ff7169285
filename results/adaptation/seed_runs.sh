# Sourced by the evaluation scripts beside it. seed_runs PREFIX SEED... prints the run
# directories PREFIX-sSEED-* of every seed, in seed order, joined by commas. A seed with no run
# is passed on as its unmatched pattern, which `plasticagents adaptation` rejects by name, so a
# missing seed stops the evaluation instead of silently shrinking the table.
seed_runs() {
  local prefix=$1 s
  shift
  for s in "$@"; do printf '%s\n' "$prefix"-s"$s"-*; done | paste -sd, -
}

# arm_args RUNS_FN SPEC sets the array ARM_ARGS to one `--arm LABEL=RUNS` per LABEL=KEY pair of
# SPEC (pairs separated by ';'), RUNS being what the function RUNS_FN prints for KEY.
arm_args() {
  local fn=$1 pair
  local -a pairs
  IFS=';' read -ra pairs <<< "$2"
  ARM_ARGS=()
  for pair in "${pairs[@]}"; do ARM_ARGS+=(--arm "${pair%%=*}=$("$fn" "${pair#*=}")"); done
}
