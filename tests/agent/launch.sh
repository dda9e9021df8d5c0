#!/bin/sh
# tests/common/agent.rs runs this after `unshare --mount --net
# --propagation private`, with S (the scratch dir), PREFIX (the
# SoftwareContainer install), BRIDGE (empty: none), BRIDGE_IP, SUBID
# (empty, or the line of /etc/subuid and /etc/subgid that gives root the
# ids of an id-mapped container) and BIND_SHARE (empty: keep the install's
# own template; unset: bind). It makes
# the namespaces the agent's own, starts its bus, then execs the agent, so
# the test's child is the agent.
set -eu
exec >"$S/setup.log" 2>&1
# A service's usual umask, whatever the test runner's: the agent makes its
# dirs with mkdir 0777 under it.
umask 022
mkdir -p /run/lxc /var/lib/lxc
mount -t tmpfs scgen-agent-test /run/lxc
mount --bind "$S/lxc" /var/lib/lxc
mkdir "$S/sys"
mount -t sysfs sysfs "$S/sys"
mount --bind "$S/sys/class/net" /sys/class/net
mount --bind "$S/sys/devices/virtual/net" /sys/devices/virtual/net
ip link set lo up
if [ -n "$SUBID" ]; then
    printf '%s\n' "$SUBID" >"$S/subid"
    if [ -e /etc/subuid ] && [ -e /etc/subgid ]; then
        mount --bind "$S/subid" /etc/subuid
        mount --bind "$S/subid" /etc/subgid
    else
        # No file to bind over: this namespace gets its own copy of /etc.
        cp -a /etc "$S/etc"
        cp "$S/subid" "$S/etc/subuid"
        cp "$S/subid" "$S/etc/subgid"
        mount --bind "$S/etc" /etc
    fi
fi
if [ -n "$BRIDGE" ]; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
fi
mount --bind "$S/root/bin" "$PREFIX/bin"
if [ -n "${BIND_SHARE-1}" ]; then
    mount --bind "$S/root/share" "$PREFIX/share/softwarecontainer"
fi
mount --bind "$S/root/etc" "$PREFIX/etc/softwarecontainer"
if [ -n "$SUBID" ]; then
    # The container binds the prefix (`ro,bind`, not recursive). In a user
    # namespace the kernel refuses a bind of a tree with mounts below it
    # (they are locked: the bind would uncover what they hide), EINVAL.
    # So the id-mapped agent gets one flat copy of the prefix, the three
    # binds above included, and no mount below it.
    cp -a "$PREFIX/." "$S/prefix"
    umount "$PREFIX/bin" "$PREFIX/share/softwarecontainer" "$PREFIX/etc/softwarecontainer"
    mount --bind "$S/prefix" "$PREFIX"
fi
dbus-daemon --config-file="$S/bus.conf" --address="unix:path=$S/bus.sock" --nofork --nopidfile &
echo $! >"$S/dbus.pid"
i=0
while [ ! -S "$S/bus.sock" ]; do
    i=$((i + 1))
    [ $i -lt 1000 ] || { echo "dbus-daemon made no socket" >&2; exit 1; }
    sleep 0.01
done
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$S/bus.sock"
exec "$PREFIX/bin/softwarecontainer-agent" -c "$PREFIX/etc/softwarecontainer/softwarecontainer-config" >"$S/agent.log" 2>&1
