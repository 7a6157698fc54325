#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests/test_slurm.py and for trying the
# slurm profile by hand:
#   tests/slurm/cluster.sh start   start munged, MariaDB, slurmdbd, slurmctld and slurmd
#                                  (those not running yet); return once the node is idle
#   tests/slurm/cluster.sh stop    cancel the cluster's jobs, stop exactly what start started
# Needs root and Debian's slurmctld slurmd slurm-client munge slurmdbd mariadb-server.
#
# There is no systemd: every daemon is started by hand and its pid recorded. The cluster's
# state, logs and pids live in $NORMBOUND_SLURM_DIR (/tmp/normbound-slurm). Its configuration
# must be in /etc/slurm: SLURM_CONF would do for the daemons and sbatch, but the executor
# plugin's job step drops SLURM_* variables before its inner srun, which then looks only
# in /etc/slurm. start refuses to overwrite configuration it did not write; stop removes it.
# munged and MariaDB are the machine's own (key in /etc/munge, data in /var/lib/mysql): they
# are reused when already running and then left running by stop.
#
# The cluster "normbound" has one node (this host: 8 CPU slots whatever its cores, 90% of its
# memory, and one GPU slot that is no GPU, so that GPU requests are scheduled) in two
# partitions: ci (default) and ci_gpu. Jobs are charged to the account normbound_ci.
set -euo pipefail

STATE=${NORMBOUND_SLURM_DIR:-/tmp/normbound-slurm}
ETC=/etc/slurm
# The first line of every file start writes into $ETC.
MARK="# Written by tests/slurm/cluster.sh; removed by its stop."
ACCOUNT=normbound_ci
DB=normbound_slurm_acct
DB_USER=normbound_slurm
HOST=$(hostname -s)

say() { echo "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The pid in $1 when that process is alive and named $2 (pid files outlive their daemons).
live_pid() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}

# Poll `$@` for up to $timeout seconds; $what names it in the error. With $watch set to a
# pid, give up as soon as that process has exited.
wait_for() {
    local what=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ -z "${watch:-}" ] || [ -e "/proc/$watch" ] || die "$what exited while starting (logs: $STATE/log)"
        [ $SECONDS -lt $deadline ] || die "$what not ready after ${timeout}s (logs: $STATE/log)"
        sleep 0.2
    done
}

write_config() {
    local memory_mb password
    memory_mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
    local file
    for file in slurm.conf gres.conf slurmdbd.conf; do
        if [ -e "$ETC/$file" ] && [ "$(head -n1 "$ETC/$file")" != "$MARK" ]; then
            die "$ETC/$file belongs to another SLURM setup; move it away to use this test cluster"
        fi
    done
    mkdir -p "$ETC" "$STATE"/{private,log,run,spool/ctld,spool/d}
    # slurmctld and slurmdbd drop to the slurm user; slurmd stays root to start jobs.
    chown slurm: "$STATE"/{log,run,spool/ctld}
    cat >"$ETC/slurm.conf" <<EOF
$MARK
ClusterName=normbound
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups without systemd: track processes through /proc, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# A cancelled job's processes get SIGKILL 2 s after SIGTERM (default 30 s).
KillWait=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
# The executor plugin asks sacct for job states; sacct needs slurmdbd.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageEnforce=associations
# sacct shows the GPUs a job was given and its comment (the plugin's rule and wildcards).
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
GresTypes=gpu
# More CPU slots than a small machine's cores: jobs run side by side as on a real cluster,
# and a rule that asks for 4 threads (training) fits. The slots are not the cores: a job's
# program still sees the machine's cores and uses the same number of threads as locally.
SlurmdParameters=config_overrides
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=8 RealMemory=$memory_mb Gres=gpu:1 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=ci_gpu Nodes=ALL MaxTime=INFINITE State=UP
EOF
    # A GPU slot that is no GPU (/dev/null): SLURM schedules --gpus against it.
    printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARK" "$HOST" >"$ETC/gres.conf"
    # The database password only has to be stable across starts of this state folder.
    [ -s "$STATE/private/db.password" ] || (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/private/db.password")
    password=$(cat "$STATE/private/db.password")
    (
        umask 077
        cat >"$ETC/slurmdbd.conf" <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$password
StorageLoc=$DB
EOF
    )
    chown slurm: "$ETC/slurmdbd.conf"
}

start_munged() {
    if live_pid /run/munge/munged.pid munged >/dev/null; then
        [ -e "$STATE/run/munged.started" ] || say "munged was running already: used, and left running by stop"
        return
    fi
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    mkdir -p /run/munge
    chown munge: /run/munge
    runuser -u munge -- munged
    wait_for munged 10 live_pid /run/munge/munged.pid munged
    live_pid /run/munge/munged.pid munged >"$STATE/run/munged.started"
}

start_mariadb() {
    if mariadb-admin ping >/dev/null 2>&1; then
        [ -e "$STATE/run/mariadbd.started" ] || say "MariaDB was running already: used, and left running by stop"
    else
        mkdir -p /run/mysqld
        chown mysql: /run/mysqld
        # Unix socket only: nothing listens on the network.
        setsid mariadbd --user=mysql --skip-networking --pid-file=/run/mysqld/mysqld.pid \
            >"$STATE/log/mariadbd.log" 2>&1 </dev/null &
        watch=$! wait_for MariaDB 30 mariadb-admin ping
        live_pid /run/mysqld/mysqld.pid mariadbd >"$STATE/run/mariadbd.started"
    fi
    mariadb <<EOF
CREATE DATABASE IF NOT EXISTS $DB;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$(cat "$STATE/private/db.password")';
GRANT ALL ON $DB.* TO '$DB_USER'@'localhost';
EOF
}

start_slurm() {
    if ! live_pid "$STATE/run/slurmdbd.pid" slurmdbd >/dev/null; then
        slurmdbd
        wait_for slurmdbd 30 sacctmgr -n list cluster
    fi
    if ! sacctmgr -n -P list cluster format=cluster | grep -qx normbound; then
        sacctmgr -i add cluster normbound >/dev/null
    fi
    if ! live_pid "$STATE/run/slurmctld.pid" slurmctld >/dev/null; then
        # -c: no jobs from an earlier start come back.
        slurmctld -c
    fi
    live_pid "$STATE/run/slurmd.pid" slurmd >/dev/null || slurmd
    wait_for "an idle node (sinfo)" 60 sh -c '[ "$(sinfo -h -o %t -p ci)" = idle ]'
    if ! sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT"; then
        sacctmgr -i add account "$ACCOUNT" cluster=normbound >/dev/null
    fi
    if ! sacctmgr -n -P list assoc user="$(id -un)" format=account | grep -qx "$ACCOUNT"; then
        sacctmgr -i add user "$(id -un)" account="$ACCOUNT" cluster=normbound >/dev/null
    fi
}

# SIGTERM to the process in pid file $1 if it is named $2; SIGKILL after 10 s.
stop_daemon() {
    local pid
    if pid=$(live_pid "$1" "$2"); then
        kill "$pid"
        local deadline=$((SECONDS + 10))
        while [ -e "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        if [ -e "/proc/$pid" ]; then
            say "$2 ($pid) ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid"
        fi
        say "stopped $2 ($pid)"
    fi
    rm -f "$1"
}

start() {
    [ "$(id -u)" = 0 ] || die "must run as root (it starts system daemons)"
    local program
    for program in munged mariadbd slurmdbd slurmctld slurmd sacctmgr sinfo; do
        command -v "$program" >/dev/null || die "$program not found; install with: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
    done
    if ! live_pid "$STATE/run/slurmctld.pid" slurmctld >/dev/null; then
        write_config
    fi
    start_munged
    start_mariadb
    start_slurm
    say "up: $(sinfo -h -o '%P %D %c CPUs %m MB %G %t' | tr '\n' ';') account $ACCOUNT"
}

stop() {
    [ -d "$STATE/run" ] || return 0
    if live_pid "$STATE/run/slurmctld.pid" slurmctld >/dev/null; then
        # Jobs' processes belong to slurmd's job steps: end them before slurmd.
        scancel --quiet --user="$(id -un)" || true
        local deadline=$((SECONDS + 15))
        while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    fi
    stop_daemon "$STATE/run/slurmd.pid" slurmd
    stop_daemon "$STATE/run/slurmctld.pid" slurmctld
    stop_daemon "$STATE/run/slurmdbd.pid" slurmdbd
    # What start found running is not in a *.started file and keeps running.
    stop_daemon "$STATE/run/mariadbd.started" mariadbd
    stop_daemon "$STATE/run/munged.started" munged
    local file
    for file in slurm.conf gres.conf slurmdbd.conf; do
        if [ -e "$ETC/$file" ] && [ "$(head -n1 "$ETC/$file")" = "$MARK" ]; then
            rm "$ETC/$file"
        fi
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
