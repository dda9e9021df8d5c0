# scgen.bbclass: generate SoftwareContainer's LXC config, rootfs skeleton and
# lxc-create drop-in with scgen in do_compile, and install them in do_install.
#
#   inherit scgen
#   SRC_URI = "file://softwarecontainer.toml"
#   SCGEN_PROFILE = "${UNPACKDIR}/softwarecontainer.toml"
#   PACKAGECONFIG ??= "networkgateway"
#
# Installs (the same places as cmake/SCGenConfig.cmake's INSTALL):
#   ${datadir}/softwarecontainer/lxc-templates/lxc-softwarecontainer  (0755)
#   ${sysconfdir}/softwarecontainer/softwarecontainer.conf             (CONFFILES)
#   ${datadir}/softwarecontainer/scgen/<all seven artifacts>
#
# scgen runs with:
#   --set install.prefix=${prefix}, install.bindir=${bindir}, install.datadir=${datadir}
#                                        (the drop-in runs ${bindir}/scgen stage)
#   --set busybox.links-file=${B}/busybox.links, the concatenation of the
#         target busybox's busybox.links files found in SCGEN_BUSYBOX_LINKS_DIR
#         (busybox_%.bbappend in this layer stages them there, with "scgen"
#         in DISTRO_FEATURES)
#   ${PACKAGECONFIG_CONFARGS}            (networkgateway -> --set network.gateway=true|false)
#   ${SCGEN_EXTRA_ARGS}                  (last, so it wins)
# and SOURCE_DATE_EPOCH exported, which sets every mtime in the rootfs tarball
# and mtree.
#
# The device needs scgen (the drop-in execs it), busybox (bound into every
# container, and its applet list is the one read here) and, with the
# networkgateway PACKAGECONFIG, iptables: all three are RDEPENDS. LXC itself
# (lxc-create, init.lxc) comes from meta-virtualization and is the image's
# to provide.
#
# The applet list reaches the sysroot through this layer's busybox_%.bbappend,
# which does so only with "scgen" in DISTRO_FEATURES: a recipe that reads the
# list (SCGEN_BUSYBOX_LINKS not empty, the default) is skipped without it,
# with a message that names the feature.

# The native scgen runs at build time; the target one runs `scgen stage`
# from the drop-in when a container is created.
SCGEN ?= "scgen"
SCGEN_DEPENDS ?= "scgen-native"
SCGEN_RDEPENDS ?= "scgen busybox"

SCGEN_PROFILE ?= "${UNPACKDIR}/softwarecontainer.toml"
SCGEN_OUT ?= "${B}/scgen"
# An --templates directory (override templates), or empty.
SCGEN_TEMPLATES ?= ""
SCGEN_EXTRA_ARGS ?= ""

# Where the target busybox's applet lists are staged, and which names to read
# there (all that exist are concatenated). Empty SCGEN_BUSYBOX_LINKS: no list
# at build time; `scgen stage` links what the device's busybox lists.
SCGEN_BUSYBOX_LINKS_DIR ?= "${STAGING_DIR_TARGET}${sysconfdir}"
SCGEN_BUSYBOX_LINKS ?= "busybox.links busybox.links.nosuid busybox.links.suid"

# What scgen writes (contract::ALL in src/contract.rs; tests/tidy.rs checks
# that this list agrees).
SCGEN_ARTIFACTS = "SHA256SUMS lxc-softwarecontainer rootfs.mtree rootfs.tar.gz seccomp.policy softwarecontainer.conf stage.toml"

inherit features_check
REQUIRED_DISTRO_FEATURES += "${@'scgen' if d.getVar('SCGEN_BUSYBOX_LINKS') else ''}"

DEPENDS += "${SCGEN_DEPENDS} ${@'busybox' if d.getVar('SCGEN_BUSYBOX_LINKS') else ''}"
RDEPENDS:${PN} += "${SCGEN_RDEPENDS}"

# upstream SoftwareContainer's ENABLE_NETWORKGATEWAY: a veth on the bridge, and
# the device's iptables bound into the container.
PACKAGECONFIG[networkgateway] = "--set network.gateway=true,--set network.gateway=false,,iptables"

B = "${WORKDIR}/build"
do_configure[noexec] = "1"
do_compile[cleandirs] = "${B}"

scgen_do_compile () {
	export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH}"
	set -- --set "install.prefix=${prefix}" --set "install.bindir=${bindir}" \
		--set "install.datadir=${datadir}"
	if [ -n "${SCGEN_BUSYBOX_LINKS}" ]; then
		links="${B}/busybox.links"
		: > "$links"
		found=""
		for name in ${SCGEN_BUSYBOX_LINKS}; do
			if [ -f "${SCGEN_BUSYBOX_LINKS_DIR}/$name" ]; then
				cat "${SCGEN_BUSYBOX_LINKS_DIR}/$name" >> "$links"
				found="$found $name"
			fi
		done
		if [ -z "$found" ]; then
			bbfatal "scgen: none of '${SCGEN_BUSYBOX_LINKS}' is in ${SCGEN_BUSYBOX_LINKS_DIR}: add \"scgen\" to DISTRO_FEATURES so that meta-scgen's busybox_%.bbappend stages them, or set SCGEN_BUSYBOX_LINKS = \"\" to link the device busybox's applets at run time"
		fi
		bbnote "scgen: busybox applets from$found"
		set -- "$@" --set "busybox.links-file=$links"
	fi
	if [ -n "${SCGEN_TEMPLATES}" ]; then
		set -- "$@" --templates "${SCGEN_TEMPLATES}"
	fi
	bbnote "scgen: running $(command -v ${SCGEN} || echo '${SCGEN} (not found)')"
	${SCGEN} gen --profile "${SCGEN_PROFILE}" --out "${SCGEN_OUT}" \
		"$@" ${PACKAGECONFIG_CONFARGS} ${SCGEN_EXTRA_ARGS}
}

scgen_do_install () {
	install -d ${D}${datadir}/softwarecontainer/scgen \
		${D}${datadir}/softwarecontainer/lxc-templates \
		${D}${sysconfdir}/softwarecontainer
	for name in ${SCGEN_ARTIFACTS}; do
		mode=0644
		if [ "$name" = lxc-softwarecontainer ]; then
			mode=0755
		fi
		install -m $mode "${SCGEN_OUT}/$name" ${D}${datadir}/softwarecontainer/scgen/$name
	done
	install -m 0755 "${SCGEN_OUT}/lxc-softwarecontainer" \
		${D}${datadir}/softwarecontainer/lxc-templates/lxc-softwarecontainer
	install -m 0644 "${SCGEN_OUT}/softwarecontainer.conf" \
		${D}${sysconfdir}/softwarecontainer/softwarecontainer.conf
}

EXPORT_FUNCTIONS do_compile do_install

FILES:${PN} += "${datadir}/softwarecontainer/scgen ${datadir}/softwarecontainer/lxc-templates/lxc-softwarecontainer ${sysconfdir}/softwarecontainer/softwarecontainer.conf"
CONFFILES:${PN} += "${sysconfdir}/softwarecontainer/softwarecontainer.conf"
