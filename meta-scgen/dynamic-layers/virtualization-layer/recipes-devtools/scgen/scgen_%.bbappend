# With meta-virtualization in the build (BBFILES_DYNAMIC in conf/layer.conf):
# every container creation needs LXC on the device (lxc-create runs scgen's
# drop-in, the stage binds init.lxc), so the target scgen depends on it.
RDEPENDS:${PN}:append:class-target = " lxc"
