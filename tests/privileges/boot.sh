# Boots one container for tests/privileges.rs and runs the hostile-app
# probe in it, after common::lxc::PRELUDE and common/scratch.sh (which
# creates c1 on a scratch ext4 lxcpath, which the freeze and fanotify
# attempts may reach). In: $PROFILE, $SETS (one --set a line, @L@ for the
# lxcpath), $NETWORK (non-empty: the iptables attempt), $STORE_OWNER
# (non-empty: the skeleton store made for that uid), $PROBE.
# Out: key=value lines.
# A tmpfs with nosuid,nodev,noexec for the read-only remount.
echo "lxc.mount.entry = tmpfs probe-ro tmpfs nosuid,nodev,noexec,size=64k,create=dir 0 0" >>"$L/c1/config"
# The probe goes into the container's own dir: the rootfs, the upper dir
# of an overlay, or the top lower dir under the tmpfs of security.disk-max.
R=$L/c1/rootfs
mkdir "$R/probe-dir"
cp "$PROBE" "$R/probe"
chown "$(stat -c %u:%g "$R")" "$R/probe-dir" "$R/probe"
lxc-start -P "$L" -n c1 -d -- env /bin/sleep 100000000
lxc-wait -P "$L" -n c1 -s RUNNING -t 10
A() { lxc-attach -P "$L" -n c1 "$@"; }
AGENT=--elevated-privileges=CAP
A $AGENT -- /probe --inside-container agent
A -- /probe --inside-container app
A -- /probe --inside-container sweep
A -- /bin/busybox sh -c "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status" | tr -d '\t' | sed 's/:/=/'
if [ -n "${NETWORK-}" ]; then
    # The host's iptables bound on /bin/iptables; without /lib64 (the yocto
    # profile) through the host's loader, as an app could run it.
    IPT=/bin/iptables
    if ! A -- $IPT -V >/dev/null 2>&1; then IPT="$(readlink -f /lib64/ld-linux-x86-64.so.2) /bin/iptables"; fi
    # The agent's rule, then the app's flush of the container's own table.
    A $AGENT -- $IPT -w -A INPUT -s 192.0.2.1 -j DROP >&2
    if A -- $IPT -w -F INPUT >&2; then echo iptables_flush=ok; else echo iptables_flush=refused; fi
    echo "iptables_rule_kept=$(A $AGENT -- $IPT -w -S INPUT | grep -c 192.0.2.1 || true)"
fi
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then mem=memory.max; else mem=memory.limit_in_bytes; fi
echo "memory_max=$(lxc-cgroup -P "$L" -n c1 $mem | sed 's/^9223372036854771712$/max/')"
echo "pids_max=$(lxc-cgroup -P "$L" -n c1 pids.max)"
timeout 10 lxc-stop -P "$L" -n c1 -k
