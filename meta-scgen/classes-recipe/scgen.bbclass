# scgen.bbclass: generate SoftwareContainer's LXC config, rootfs skeleton and
# lxc-create drop-in with scgen, in a task of its own (do_scgen), so that a
# recipe of any kind (none, cmake, meson) can inherit it.
#
#   inherit scgen
#   SRC_URI = "file://softwarecontainer.toml"
#   SCGEN_PROFILE = "${UNPACKDIR}/softwarecontainer.toml"
#   SCGEN_NETWORK_GATEWAY = "true"      # optional; unset: the profile decides
#
# do_scgen (after do_patch and do_prepare_recipe_sysroot, before do_compile)
# writes a profile of its own, ${SCGEN_PROFILE_FILE}, that `extends`
# SCGEN_PROFILE and sets only what the build knows: install.prefix, .bindir,
# .datadir, busybox.links-file (the target busybox's applet list) and, when
# the recipe sets SCGEN_NETWORK_GATEWAY, network.gateway. It runs
#   scgen gen --profile ${SCGEN_PROFILE_FILE} --out ${SCGEN_OUT} --depfile ...
#             [--templates ${SCGEN_TEMPLATES}] ${SCGEN_EXTRA_ARGS}
# with SOURCE_DATE_EPOCH exported (every mtime in the rootfs tarball and
# mtree). A recipe whose own build runs scgen (SoftwareContainer's patched
# CMake, through find_package(SCGen)) gives it ${SCGEN_PROFILE_FILE}, so both
# generate from the same settings.
#
# Then it checks what scgen reports:
# - every input named in the depfile (the profile, the profiles it extends,
#   the applet list, override templates) lies inside ${WORKDIR}, where
#   BitBake tracks it (SRC_URI, S, the sysroots); anything else fails the
#   task with its name: add it to SRC_URI so that a change rebuilds;
# - a seccomp policy in the config (security.seccomp, on by default) needs
#   "seccomp" in DISTRO_FEATURES: meta-virtualization builds LXC without
#   seccomp support otherwise, and the containers would run unfiltered;
# - a network gateway in the output needs iptables in RDEPENDS:${PN}.
#
# With SCGEN_INSTALL = "1" (the default) do_install installs the artifacts
# in a directory of the recipe's own, so that two recipes, or one and
# SoftwareContainer's package, never install the same path:
#   ${SCGEN_DATADIR}/softwarecontainer/scgen/<the seven artifacts>
#     (SCGEN_DATADIR = ${datadir}/scgen/${SCGEN_NAME}; it is the profile's
#     install.datadir, so the drop-in there finds them)
#   ${SCGEN_CONFDIR}/softwarecontainer.conf   (CONFFILES)
#     (SCGEN_CONFDIR = ${sysconfdir}/scgen/${SCGEN_NAME})
# SoftwareContainer's recipe sets SCGEN_INSTALL = "0": its own install puts
# the drop-in and config where the agent looks.
#
# The package's postinst gives ${SCGEN_SUBID_USER} (root, which runs the
# agent and lxc-create) the host ids of every lxc.idmap line of the installed
# config in /etc/subuid and /etc/subgid: LXC refuses an id-mapped container
# without them wherever newuidmap is installed. Nothing is written for a
# config without lxc.idmap.
#
# Runtime dependencies: scgen (the drop-in execs `scgen stage`, and scgen's
# package needs lxc where meta-virtualization is in the build) and busybox
# (bound into every container).

SCGEN ?= "scgen"
SCGEN_DEPENDS ?= "scgen-native"
SCGEN_RDEPENDS ?= "scgen busybox"

SCGEN_PROFILE ?= "${UNPACKDIR}/softwarecontainer.toml"
SCGEN_WORKDIR = "${WORKDIR}/scgen"
SCGEN_PROFILE_FILE = "${SCGEN_WORKDIR}/profile/${@os.path.basename(d.getVar('SCGEN_PROFILE'))}"
SCGEN_OUT ?= "${SCGEN_WORKDIR}/out"
SCGEN_DEPFILE = "${SCGEN_WORKDIR}/scgen.d"
# An --templates directory (override templates), or empty.
SCGEN_TEMPLATES ?= ""
SCGEN_EXTRA_ARGS ?= ""
# "true" or "false" sets network.gateway; empty leaves it to the profile.
SCGEN_NETWORK_GATEWAY ??= ""

SCGEN_INSTALL ?= "1"
SCGEN_NAME ?= "${PN}"
SCGEN_DATADIR ?= "${@'${datadir}/scgen/${SCGEN_NAME}' if d.getVar('SCGEN_INSTALL') == '1' else '${datadir}'}"
SCGEN_CONFDIR ?= "${sysconfdir}/scgen/${SCGEN_NAME}"
# The installed config the postinst reads the id map from.
SCGEN_CONF_INSTALLED ?= "${SCGEN_CONFDIR}/softwarecontainer.conf"
SCGEN_SUBID_USER ?= "root"

# Where the target busybox's applet lists are staged, and which to read there
# (all that exist are concatenated). busybox.links.suid is left out: those
# applets (su, ping, passwd, ...) need the suid busybox binary, and the
# container binds the non-suid one, so links to them would not work. Empty
# SCGEN_BUSYBOX_LINKS: no list at build time; `scgen stage` links what the
# device's busybox lists.
SCGEN_BUSYBOX_LINKS_DIR ?= "${STAGING_DIR_TARGET}${sysconfdir}"
SCGEN_BUSYBOX_LINKS ?= "busybox.links busybox.links.nosuid"

# What scgen writes (contract::ALL in src/contract.rs; tests/tidy.rs checks
# that this list agrees).
SCGEN_ARTIFACTS = "SHA256SUMS lxc-softwarecontainer rootfs.mtree rootfs.tar.gz seccomp.policy softwarecontainer.conf stage.toml"

inherit features_check
REQUIRED_DISTRO_FEATURES += "${@'scgen' if d.getVar('SCGEN_BUSYBOX_LINKS') else ''}"

DEPENDS += "${SCGEN_DEPENDS} ${@'busybox' if d.getVar('SCGEN_BUSYBOX_LINKS') else ''}"
RDEPENDS:${PN} += "${SCGEN_RDEPENDS} ${@'iptables' if d.getVar('SCGEN_NETWORK_GATEWAY') == 'true' else ''}"

# In the task's signature, so that adding or removing the feature reruns the
# check.
SCGEN_HAVE_SECCOMP = "${@bb.utils.contains('DISTRO_FEATURES', 'seccomp', '1', '0', d)}"

addtask scgen after do_patch do_prepare_recipe_sysroot before do_compile
do_scgen[dirs] = "${SCGEN_WORKDIR}"
do_scgen[cleandirs] = "${SCGEN_WORKDIR}"
do_scgen[postfuncs] += "scgen_check"
do_scgen[vardeps] += "SCGEN_HAVE_SECCOMP RDEPENDS:${PN}"

do_scgen () {
	export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH}"
	profile="${SCGEN_PROFILE_FILE}"
	mkdir -p "$(dirname "$profile")"
	for p in "${SCGEN_PROFILE}" "${SCGEN_WORKDIR}" "${prefix}" "${bindir}" "${SCGEN_DATADIR}"; do
		case "$p" in
		*'"'*|*'\'*) bbfatal "scgen: '$p' holds a quote or backslash, which the profile this class writes cannot carry" ;;
		esac
	done
	[ -f "${SCGEN_PROFILE}" ] || bbfatal "scgen: SCGEN_PROFILE ${SCGEN_PROFILE} does not exist (is it in SRC_URI?)"
	{
		echo "# Written by scgen.bbclass (do_scgen): ${SCGEN_PROFILE} with what the build sets."
		echo "extends = \"${SCGEN_PROFILE}\""
		echo
		echo "[install]"
		echo "prefix = \"${prefix}\""
		echo "bindir = \"${bindir}\""
		echo "datadir = \"${SCGEN_DATADIR}\""
	} > "$profile"
	if [ -n "${SCGEN_BUSYBOX_LINKS}" ]; then
		links="${SCGEN_WORKDIR}/busybox.links"
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
		printf '\n[busybox]\nlinks-file = "%s"\n' "$links" >> "$profile"
	fi
	case "${SCGEN_NETWORK_GATEWAY}" in
	true|false) printf '\n[network]\ngateway = %s\n' "${SCGEN_NETWORK_GATEWAY}" >> "$profile" ;;
	"") ;;
	*) bbfatal "scgen: SCGEN_NETWORK_GATEWAY is '${SCGEN_NETWORK_GATEWAY}': true, false, or empty (the profile decides)" ;;
	esac
	set --
	if [ -n "${SCGEN_TEMPLATES}" ]; then
		set -- --templates "${SCGEN_TEMPLATES}"
	fi
	bbnote "scgen: running $(command -v ${SCGEN} || echo '${SCGEN} (not found)')"
	${SCGEN} gen --profile "$profile" --out "${SCGEN_OUT}" --depfile "${SCGEN_DEPFILE}" \
		"$@" ${SCGEN_EXTRA_ARGS}
}

python scgen_check () {
    import os
    import re

    workdir = os.path.realpath(d.getVar('WORKDIR'))
    with open(d.getVar('SCGEN_DEPFILE')) as f:
        depfile = f.read()
    # "<outputs>: <inputs>", blanks in names escaped with a backslash.
    _, _, inputs = depfile.replace('\\\n', ' ').partition(': ')
    names = [re.sub(r'\\(.)', r'\1', n) for n in re.findall(r'(?:\\.|[^\s\\])+', inputs)]
    untracked = [n for n in names if not os.path.realpath(n).startswith(workdir + os.sep)]
    if untracked:
        bb.fatal("scgen: the profile reads %s, outside ${WORKDIR}, which BitBake does not track: "
                 "a change there would not rebuild %s. Add them to SRC_URI (file://) and refer to "
                 "them from there." % (", ".join(untracked), d.getVar('PN')))
    bb.note("scgen: inputs %s" % " ".join(names))

    out = d.getVar('SCGEN_OUT')
    with open(os.path.join(out, 'stage.toml')) as f:
        stage = f.read()
    with open(os.path.join(out, 'softwarecontainer.conf')) as f:
        conf = f.read()
    seccomp = re.search(r'^seccomp-builtin = true$', stage, re.M) or \
        re.search(r'^\s*lxc\.seccomp(\.profile)?\s*=', conf, re.M)
    if seccomp and d.getVar('SCGEN_HAVE_SECCOMP') != '1':
        bb.fatal("scgen: the profile's security.seccomp puts a seccomp policy on every container, "
                 "but \"seccomp\" is not in DISTRO_FEATURES: meta-virtualization then builds LXC "
                 "without seccomp, which loads no policy, and the containers run unfiltered. Add "
                 "DISTRO_FEATURES:append = \" seccomp\", or set security.seccomp = \"off\" in the "
                 "profile to run them unfiltered on purpose.")
    pn = d.getVar('PN')
    if re.search(r'^iptables = true$', stage, re.M) and \
            'iptables' not in (d.getVar('RDEPENDS:' + pn) or '').split():
        bb.warn("scgen: the profile turns the network gateway on, which binds the device's iptables "
                "into each container: add iptables to RDEPENDS:%s, or set SCGEN_NETWORK_GATEWAY = "
                "\"true\", which does" % pn)
}

scgen_install () {
	install -d ${D}${SCGEN_DATADIR}/softwarecontainer/scgen ${D}${SCGEN_CONFDIR}
	for name in ${SCGEN_ARTIFACTS}; do
		mode=0644
		if [ "$name" = lxc-softwarecontainer ]; then
			mode=0755
		fi
		install -m $mode "${SCGEN_OUT}/$name" ${D}${SCGEN_DATADIR}/softwarecontainer/scgen/$name
	done
	install -m 0644 "${SCGEN_OUT}/softwarecontainer.conf" ${D}${SCGEN_CONFDIR}/softwarecontainer.conf
}
do_install[postfuncs] += "${@'scgen_install' if d.getVar('SCGEN_INSTALL') == '1' else ''}"

FILES:${PN} += "${@'${SCGEN_DATADIR}/softwarecontainer/scgen ${SCGEN_CONFDIR}' if d.getVar('SCGEN_INSTALL') == '1' else ''}"
CONFFILES:${PN} += "${@'${SCGEN_CONFDIR}/softwarecontainer.conf' if d.getVar('SCGEN_INSTALL') == '1' else ''}"

# Subordinate ids for the id map: at do_rootfs ($D set) or on the device.
# Appends only lines that are not there yet, so upgrades and several
# packages that inherit the class add each range once.
pkg_postinst:${PN}:append () {
	conf="$D${SCGEN_CONF_INSTALLED}"
	if [ -f "$conf" ]; then
		for kind in u g; do
			file="$D${sysconfdir}/subuid"
			[ "$kind" = g ] && file="$D${sysconfdir}/subgid"
			while read -r key eq k nsid hostid range rest; do
				case "$key" in
				lxc.idmap|lxc.id_map) ;;
				*) continue ;;
				esac
				[ "$eq" = "=" ] && [ "$k" = "$kind" ] || continue
				line="${SCGEN_SUBID_USER}:$hostid:$range"
				touch "$file"
				grep -qxF "$line" "$file" || echo "$line" >> "$file"
			done < "$conf"
		done
	fi
}
