#!/usr/bin/env bash
# Tear down the single-node Slurm started by ci/slurm/up.sh: cancel every job, then stop
# slurmd, slurmctld and munged via their PID files and wait until they have exited.
# Safe to run when nothing runs.  Installed packages, config and spool dirs are kept.
set -euo pipefail

STATE_DIR=/run/slurm
log() { echo "[slurm-down] $*"; }

[ "$(id -u)" = 0 ] || { echo "[slurm-down] ERROR: must run as root" >&2; exit 1; }

# PID from PID file $1 if it names a live process whose command is $2 (guards against stale
# PID files pointing at a recycled PID).
live_pid() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ] && echo "$pid"
}

# --- 1. Cancel all jobs while slurmctld/slurmd still run: each job's slurmstepd would
#        otherwise outlive slurmd and keep the job's processes alive. ---------------------
if live_pid "$STATE_DIR/slurmctld.pid" slurmctld >/dev/null; then
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
        log "cancelling jobs: ${jobs//$'\n'/ }"
        # shellcheck disable=SC2086
        scancel $jobs || true
        for _ in $(seq 100); do  # up to 10 s for the jobs and their slurmstepd to end
            [ -z "$(squeue -h -t RUNNING,COMPLETING,PENDING -o %A 2>/dev/null)" ] \
                && ! pgrep -x slurmstepd >/dev/null && break
            sleep 0.1
        done
    fi
fi

# --- 2. Stop the daemons, clients first: slurmd, slurmctld, munged. ----------------------
stop() { # PID file, process name
    local pid
    pid=$(live_pid "$1" "$2") || return 0
    log "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 150); do  # up to 15 s, then SIGKILL
        [ -d "/proc/$pid" ] || { rm -f "$1"; return 0; }
        sleep 0.1
    done
    log "$2 did not exit on SIGTERM, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    rm -f "$1"
}
stop "$STATE_DIR/slurmd.pid" slurmd
stop "$STATE_DIR/slurmctld.pid" slurmctld
stop /run/munge/munged.pid munged

# --- 3. Report leftovers (e.g. a slurmstepd whose job could not be cancelled). -----------
left=""
for name in slurmd slurmctld slurmstepd munged; do  # pgrep -x: exact process names
    found=$(pgrep -a -x "$name" || true)
    [ -z "$found" ] || left+="$found"$'\n'
done
if [ -n "$left" ]; then
    echo "[slurm-down] WARNING: still running:" >&2
    printf '%s' "$left" >&2
    exit 1
fi
log "Slurm is down"
