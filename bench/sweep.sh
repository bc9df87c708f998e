# Every measurement the docs report for the default prior with the default settings, as a queue of
# resumable jobs that any number of workers share (one per core on the 2-core CPU):
#
#     bash bench/sweep.sh TAG &  bash bench/sweep.sh TAG &     # two workers, one thread each
#     bash bench/sweep.sh TAG --list                           # what is done, running, waiting
#     SWEEP_ONLY='campaign_.*|series_.*' bash bench/sweep.sh TAG   # only the jobs these names match
#     SWEEP_PMO_SETTINGS=bench/pmo_settings/fp32.toml bash bench/sweep.sh TAG   # PMO runs with these settings
#
# Results go to bench/results/sweep_TAG/, runs and logs to runs/sweep-TAG/. A worker takes the next
# job no worker holds (a lock folder per job) and whose output file is not there yet (commit the
# results, and a sweep goes on from them on another machine); a job
# killed midway keeps its lock: remove runs/sweep-TAG/locks/JOB and start a worker again, and the
# job resumes (bench pmo and bench campaign keep their finished runs and rounds). The order puts
# fine-tuning and the prior's own figures first, then the campaigns, then PMO's two tuning tasks and
# the compression table with its RL column, then the other PMO runs (one task-seed a job) and
# sampling speed; the last job gathers the PMO table from the PMO jobs' files.
set -u
TAG=${1:?usage: bash bench/sweep.sh TAG [--list]}
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} PYTHONUNBUFFERED=1
OUT=bench/results/sweep_$TAG
RUNS=runs/sweep-$TAG
ZINC=../shared/data/zinc250k.smi.gz
# The PMO task-seed jobs' settings file, if any: one precision across the chips a sweep runs on.
PMO_SETTINGS=${SWEEP_PMO_SETTINGS:+--settings $SWEEP_PMO_SETTINGS}
mkdir -p "$OUT" "$RUNS/locks" "$RUNS/done" "$RUNS/logs"

job_list() {  # the jobs of this sweep: all, or those whose names SWEEP_ONLY (an extended regex) matches
    all_jobs | grep -E "^(${SWEEP_ONLY:-.*}) "
}

all_jobs() {  # one line a job: NAME COMMAND...
    local task seed
    echo "finetune python bench/finetune_series.py --model prior --out $OUT/finetune_series.json"
    echo "prior chemloop bench prior --model prior --num 10000 --sample-seed 0 --compare moses --output $OUT/prior.json"
    for task in osimertinib_mpo fexofenadine_mpo ranolazine_mpo; do
        for seed in 0 1 2; do
            echo "campaign_${task}_s$seed chemloop bench campaign --task $task --rounds 6 --batch 12" \
                "--seed $seed --work-dir $RUNS/campaign-$task-s$seed --output $OUT/campaign_open_${task}_s$seed.json"
        done
    done
    for seed in 0 1 2; do
        echo "series_s$seed chemloop bench campaign --series $ZINC --series-count 3 --rounds 3 --batch 12" \
            "--seed-molecules 12 --seed $seed --resume --output $OUT/campaign_series_s$seed.json"
    done
    for task in zaleplon_mpo perindopril_mpo; do  # PMO's tuning tasks: also the compression table's fp32 row
        for seed in 0 1 2; do
            echo "pmo_${task}_s$seed chemloop bench pmo --tasks $task --seeds 1 --first-seed $seed $PMO_SETTINGS" \
                "--runs-dir $RUNS/pmo --output $OUT/pmo_${task}_s$seed.json"
        done
    done
    echo "compress chemloop bench compress --model prior --num 10000" \
        "--variants fp32,bf16,int8,sparsegpt:0.5,mlp:0.25,distill:3x256 --distill-minutes 60" \
        "--work-dir $RUNS/compress --output $OUT/compress.json"
    # The RL column of the compression table, one run a job (the fp32/bf16 row: the PMO jobs above).
    for variant in sparsegpt:0.5 mlp:0.25; do
        for task in zaleplon_mpo perindopril_mpo; do
            for seed in 0 1 2; do
                echo "rl_${variant/:/}_${task}_s$seed bash bench/pmo_compressed.sh $variant $task $seed" \
                    "$RUNS/variants $RUNS/pmo-compressed --output $OUT/rl_${variant/:/}_${task}_s$seed.json"
            done
        done
    done
    for task in $(python -c "from chemloop.score.oracles.pmo import available_tasks; print(*available_tasks())"); do
        case $task in zaleplon_mpo|perindopril_mpo) continue ;; esac  # queued above
        for seed in 0 1 2; do
            echo "pmo_${task}_s$seed chemloop bench pmo --tasks $task --seeds 1 --first-seed $seed $PMO_SETTINGS" \
                "--runs-dir $RUNS/pmo --output $OUT/pmo_${task}_s$seed.json"
        done
    done
    echo "sampling chemloop bench sampling --model prior --num 10000 --repeats 3" \
        "--precision fp32,bf16,int8 --output $OUT/sampling.json"
    echo "pmo_qed_time chemloop bench pmo --tasks qed --seeds 1 --settings bench/pmo_settings/no_plateau.toml" \
        "--runs-dir $RUNS/pmo-time --output $OUT/pmo_qed_10k_time.json"
    echo "pmo_table python bench/pmo_table.py $OUT/pmo_*_s[012].json --markdown --output $OUT/pmo.json" \
        "--beside bench/results/pmo_default_published_isomers_seeds012.json --beside-label moses"
}

# A job is done when its output file is there and complete (a series benchmark writes its file after
# each series, marked "complete": false until the last): committed results count on any machine.
is_done() {  # NAME COMMAND...
    local name=$1 output
    output=$(echo "$*" | grep -oE -- '--(output|out) [^ ]+' | tail -1 | cut -d' ' -f2)
    [ -e "$RUNS/done/$name" ] && return 0
    [ -n "$output" ] && [ -e "$output" ] && ! grep -q '"complete": false' "$output"
}

if [ "${2:-}" = "--list" ]; then
    job_list | while read -r name command; do
        if is_done "$name" "$command"; then echo "done     $name"
        elif [ -d "$RUNS/locks/$name" ]; then echo "running  $name"
        else echo "waiting  $name"; fi
    done
    exit 0
fi

job_list | while read -r name command; do
    is_done "$name" "$command" && continue
    mkdir "$RUNS/locks/$name" 2>/dev/null || continue
    # The PMO table waits for every PMO job, done by this worker or another.
    if [ "$name" = pmo_table ] && [ "$(ls "$OUT" | grep -c '^pmo_.*_s[012].json$')" -lt "$(job_list | grep -c '^pmo_.*_s[012] ')" ]; then
        rmdir "$RUNS/locks/$name"
        continue
    fi
    echo "$(date -u +%FT%TZ) start $name" >> "$RUNS/sweep.log"
    if nice -n 5 $command > "$RUNS/logs/$name.log" 2>&1 < /dev/null; then
        touch "$RUNS/done/$name"
        echo "$(date -u +%FT%TZ) done  $name" >> "$RUNS/sweep.log"
    else
        status=$?
        echo "$(date -u +%FT%TZ) FAIL  $name (exit $status, see $RUNS/logs/$name.log)" >> "$RUNS/sweep.log"
    fi
    rmdir "$RUNS/locks/$name"
done
