# Stage the applet lists of the target busybox into the sysroot, so recipes
# that inherit scgen can read them at ${STAGING_DIR_TARGET}${sysconfdir}.
#
# busybox's do_install writes ${D}${sysconfdir}/busybox.links (or, with the
# default BUSYBOX_SPLIT_SUID = "1", busybox.links.suid and
# busybox.links.nosuid), but a target recipe's sysroot carries no
# ${sysconfdir}: SYSROOT_DIRS adds it for native and cross recipes only.
# This stages just those files rather than all of busybox's /etc.
SYSROOT_PREPROCESS_FUNCS += "scgen_stage_busybox_links"

scgen_stage_busybox_links () {
	install -d ${SYSROOT_DESTDIR}${sysconfdir}
	for f in ${D}${sysconfdir}/busybox.links*; do
		if [ -f "$f" ]; then
			install -m 0644 "$f" ${SYSROOT_DESTDIR}${sysconfdir}/
		fi
	done
}
