# With "scgen" in DISTRO_FEATURES, stage the target busybox's applet lists
# into the sysroot (busybox-scgen.inc). Without it this append adds nothing,
# so adding the layer leaves busybox's task signatures, and everyone's
# sstate for it, as they were (as meta-virtualization gates its appends on
# "virtualization").
require ${@bb.utils.contains('DISTRO_FEATURES', 'scgen', 'busybox-scgen.inc', '', d)}
