SUMMARY = "Debian's pseudo as pseudo-native (test stand-in)"
DESCRIPTION = "Fakeroot tasks (do_install, do_package) run under \
${PSEUDO_SYSROOT}/usr/bin/pseudo, which only pseudo-native provides. \
virtual/fakeroot-native cannot be assumed provided (BitBake then fails in \
build_scenequeue_data), so this recipe provides it with the host's pseudo \
(Debian's pseudo and libpseudo packages)."
LICENSE = "LGPL-2.1-only"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/LGPL-2.1-only;md5=1a6d268fd218675ffea8be556788b780"
PROVIDES = "virtual/fakeroot-native"
INHIBIT_DEFAULT_DEPS = "1"
inherit native

# It cannot run under itself.
do_install[fakeroot] = "0"
do_install () {
	lib=""
	for f in /usr/lib/*/pseudo/libpseudo.so /usr/lib/pseudo/libpseudo.so; do
		[ -f "$f" ] && lib="$f"
	done
	[ -n "$lib" ] || bbfatal "no libpseudo.so on the host (apt-get install libpseudo)"
	install -d ${D}${bindir} ${D}${libdir}/pseudo/lib ${D}${libdir}/pseudo/lib64
	install -m 0755 /usr/bin/pseudo ${D}${bindir}/pseudo
	install -m 0644 "$lib" ${D}${libdir}/pseudo/lib/libpseudo.so
	install -m 0644 "$lib" ${D}${libdir}/pseudo/lib64/libpseudo.so
}
# Debian ships them stripped.
INSANE_SKIP:${PN} += "already-stripped"
