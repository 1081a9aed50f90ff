#!/usr/bin/env bash
# Bring up a single-node Slurm (slurmctld + slurmd + munged) on localhost, for CI and local
# testing of `snakemake --executor slurm`.  Needs root, a Debian/Ubuntu machine, no systemd.
#
#   sudo ci/slurm/up.sh      # install if needed, configure, start, wait until the node is idle
#   sudo ci/slurm/down.sh    # cancel all jobs, stop the daemons
#
# Idempotent: daemons that already run are left alone (unless slurm.conf changed, in which
# case everything is restarted).  Partition: `debug`; node: `localhost`.
# SLURM_FAKE_GPU=1 also declares one fake GPU GRES (for `gpu=1` / `gres="gpu:1"` jobs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF=/etc/slurm/slurm.conf
STATE_DIR=/run/slurm            # PID files
LOG_DIR=/var/log/slurm
WAIT_S="${SLURM_UP_TIMEOUT:-30}" # how long to wait for the node to become idle

start_ns=$(date +%s%N)
log() { echo "[slurm-up] $*"; }
die() { echo "[slurm-up] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# True when the PID file $1 names a live process whose command is $2.
running() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

# --- 1. Packages (Debian 12 ships Slurm 22.05).  Nothing is started by the install. -------
if ! command -v slurmctld >/dev/null; then
    pkgs=(slurmctld slurmd slurm-client munge)
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${pkgs[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${pkgs[@]}"
    fi
fi

# --- 2. slurm.conf from the template, sized to this machine. -----------------------------
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
real_mem_mb=$(( mem_mb - mem_mb / 20 - 256 )) # leave ~5% + 256 MB, so slurmd never reports less
mkdir -p /etc/slurm "$STATE_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
# Optional fake GPU (scheduling only: the job gets CUDA_VISIBLE_DEVICES=0, no device).
if [ "${SLURM_FAKE_GPU:-0}" = 1 ]; then
    gres_types="GresTypes=gpu"; node_gres=" Gres=gpu:1"
    echo "NodeName=localhost Name=gpu File=/dev/null" > /etc/slurm/gres.conf
else
    gres_types="# GresTypes: none"; node_gres=""
    rm -f /etc/slurm/gres.conf
fi
new_conf=$(sed -e "s|@CPUS@|$cpus|g" -e "s|@REAL_MEMORY_MB@|$real_mem_mb|g" \
               -e "s|@STATE_DIR@|$STATE_DIR|g" -e "s|@LOG_DIR@|$LOG_DIR|g" \
               -e "s|@GRES_TYPES@|$gres_types|g" -e "s|@NODE_GRES@|$node_gres|g" \
               "$HERE/slurm.conf.in")
if [ ! -f "$CONF" ] || [ "$new_conf" != "$(cat "$CONF")" ]; then
    if running "$STATE_DIR/slurmctld.pid" slurmctld || running "$STATE_DIR/slurmd.pid" slurmd; then
        log "slurm.conf changed: restarting the daemons"
        "$HERE/down.sh"
    fi
    printf '%s\n' "$new_conf" > "$CONF"
    log "wrote $CONF (CPUs=$cpus RealMemory=${real_mem_mb}MB)"
fi

# --- 3. munge: runtime dir, key, daemon (as the munge user). ------------------------------
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! running /run/munge/munged.pid munged; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --force  # --force: ignore a stale socket
fi
for _ in $(seq 50); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# --- 4. slurmctld, then slurmd (both daemonize; they run as root, see SlurmUser). ----------
if ! running "$STATE_DIR/slurmctld.pid" slurmctld; then
    log "starting slurmctld"
    slurmctld
fi
if ! running "$STATE_DIR/slurmd.pid" slurmd; then
    log "starting slurmd"
    slurmd
fi

# --- 5. Wait until the node is idle (or already busy with jobs, when up.sh is rerun). -----
deadline=$(( $(date +%s) + WAIT_S ))
state=""
while :; do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|inval*)  # e.g. left DOWN/INVAL by an earlier run: nudge it back
            scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "[slurm-up] ERROR: node not idle after ${WAIT_S}s (state: '${state:-no answer}')" >&2
        for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/munge/munged.log; do
            echo "----- tail of $f -----" >&2
            tail -n 25 "$f" >&2 2>/dev/null || true
        done
        exit 1
    fi
    sleep 0.5
done

elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
log "Slurm is up: node localhost is $state, partition debug (took $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))s)"
sinfo
