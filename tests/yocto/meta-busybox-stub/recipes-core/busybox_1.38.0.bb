SUMMARY = "A busybox that only installs what OE-Core's installs in /etc (test stand-in)"
DESCRIPTION = "OE-Core's busybox needs a cross compiler, which the fixture \
lacks. This one installs the applet lists as OE-Core's does with its \
default BUSYBOX_SPLIT_SUID = 1, and an inittab, so that meta-scgen's \
busybox_%.bbappend (which applies to it as to the real one) decides what \
reaches the sysroot."
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"
INHIBIT_DEFAULT_DEPS = "1"

do_install () {
	install -d ${D}${sysconfdir}
	printf '/bin/sh\n/bin/ls\n/bin/env\n/bin/sleep\n/usr/bin/env\n' > ${D}${sysconfdir}/busybox.links.nosuid
	printf '/bin/ping\n/bin/su\n' > ${D}${sysconfdir}/busybox.links.suid
	printf '::sysinit:/etc/init.d/rcS\n' > ${D}${sysconfdir}/inittab
}
