SUMMARY = "Debian's rpmdeps as rpm-native's (test stand-in)"
DESCRIPTION = "do_package runs rpmdeps from the native sysroot for the \
per-file dependencies; this installs the host's (Debian's rpm package)."
LICENSE = "GPL-2.0-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/GPL-2.0-only;md5=801f80980d171dd6425610833a22dbe6"
INHIBIT_DEFAULT_DEPS = "1"
inherit native

do_install () {
	install -d ${D}${libdir}/rpm
	install -m 0755 /usr/lib/rpm/rpmdeps ${D}${libdir}/rpm/rpmdeps
}
INSANE_SKIP:${PN} += "already-stripped"
