# After common::lxc::PRELUDE: a bridge, and a scratch ext4 of 64 MiB
# loop-mounted as the lxcpath $L (the tests that fill or freeze a
# filesystem reach only it), unmounted on exit after its container is
# gone; $L/gw for /gateways, $L/store for $STORE_OWNER (if set); then
# $PROFILE generated with a `--set` for each line of $SETS (@L@: the
# lxcpath), and container c1 created from it, not started.
ip link add lxcbr0 type bridge && ip link set lxcbr0 up
L=$P/scratch
mkdir "$L" && truncate -s 64M "$P/scratch.img" && mkfs.ext4 -q -F "$P/scratch.img"
mount -o loop "$P/scratch.img" "$L"
finish() {
    lxc-stop -P "$L" -n c1 -k >/dev/null 2>&1 || true
    lxc-destroy -P "$L" -n c1 -f >/dev/null 2>&1 || true
    umount "$L" 2>/dev/null || umount -l "$L"
    cleanup
}
trap finish EXIT
chmod 755 "$P" "$L"
mkdir -m 0777 "$L/gw" && echo from-the-host >"$L/gw/hello"
if [ -n "${STORE_OWNER-}" ]; then install -d -o "$STORE_OWNER" -g "$STORE_OWNER" -m 755 "$L/store"; fi
set --
while IFS= read -r s; do
    [ -z "$s" ] || set -- "$@" --set "$(printf '%s' "$s" | sed "s|@L@|$L|g")"
done <<EOF
$SETS
EOF
"$SCGEN" gen --profile "$PROFILE" --out "$P/art" "$@" >&2
export SCGEN_ARTIFACTS="$P/art"
GATEWAY_DIR="$L/gw" lxc-create -P "$L" -n c1 -t "$P/art/lxc-softwarecontainer" -f "$P/art/softwarecontainer.conf" >&2
