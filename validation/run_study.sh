#!/usr/bin/env bash
# The paper study (config/paper.yaml) on a small machine, one MD run at a time, in the
# order that gives the comparison its numbers soonest, keeping the finished work after
# each run so that a study longer than a machine's lease carries on elsewhere.
#
# Run from the repository root, with the project's environment on PATH (make venv):
#   PATH=$PWD/.venv/bin:$PATH validation/run_study.sh
# It first restores what an earlier machine saved (validation/progress, or $STORE), then
# runs what is missing; after each run it saves the finished outputs there (no
# trajectories: electrolyte_md.progress). Commit validation/progress to carry the study to
# the next machine. At the end it writes the report and collects the summary outputs
# into validation/ (python -m electrolyte_md.study.validation).
set -euo pipefail
STORE=${STORE:-validation/progress}
CORES=${CORES:-2}
CONFIG=config/paper.yaml
SM=(snakemake --cores "$CORES" --configfile "$CONFIG" --replace-workflow-config
    --profile profiles/default)
# systems holding the cluster get the per-run cluster-stability figure too
CLUSTER_SYSTEM=Ti6HPAB_LiPF6_NMP
CLUSTER_SPECIES=Ti6HPAB
RUNS=(
    LiPF6_NMP/298.15K/rep1 Ti6HPAB_LiPF6_NMP/298.15K/rep1
    LiPF6_NMP/298.15K/rep2 Ti6HPAB_LiPF6_NMP/298.15K/rep2
    NMP_neat/298.15K/rep1 NMP_neat/298.15K/rep2
    LiPF6_NMP/253.15K/rep1 Ti6HPAB_LiPF6_NMP/253.15K/rep1
    LiPF6_NMP/253.15K/rep2 Ti6HPAB_LiPF6_NMP/253.15K/rep2
    NMP_neat/253.15K/rep1 NMP_neat/253.15K/rep2
)

log() { echo "$(date -Is) $*"; }

# on the machine that ran it the study carries on from its own results/ (a run killed
# midway continues from its checkpoints; its log has moved on from any saved copy)
if [[ -d results ]]; then
    log "carrying on from results/ (no restore)"
elif [[ -f $STORE/manifest.json ]]; then
    log "restoring the saved study from $STORE"
    python -m electrolyte_md.progress restore "$STORE"
fi
for run in "${RUNS[@]}"; do
    targets=("results/analysis/$run/transport.json")
    if [[ $run == "$CLUSTER_SYSTEM"/* ]]; then
        targets+=("results/analysis/$run/cluster_$CLUSTER_SPECIES.png")
    fi
    log "run $run"
    # a killed Snakemake leaves its lock; the outputs it marked incomplete are redone
    "${SM[@]}" --unlock >/dev/null 2>&1 || true
    nice -n 19 "${SM[@]}" "${targets[@]}"
    python -m electrolyte_md.progress save "$STORE"
done
log "all runs done: tables, figures and the report"
nice -n 19 "${SM[@]}"
python -m electrolyte_md.progress save "$STORE"
"${SM[@]}" --cores 1 --report results/report.html
python -m electrolyte_md.study.validation results validation \
    --command "PATH=\$PWD/.venv/bin:\$PATH validation/run_study.sh (commit $(git rev-parse --short HEAD))"
log "study done: validation/"
