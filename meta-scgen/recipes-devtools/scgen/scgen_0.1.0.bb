SUMMARY = "Build-time generator for SoftwareContainer's LXC config and rootfs skeleton"
DESCRIPTION = "scgen turns a TOML profile into SoftwareContainer's static LXC \
config, a reproducible rootfs skeleton and an lxc-create drop-in template; on \
the device, `scgen stage` prepares each container from them."
HOMEPAGE = "https://r-seed-59822b2b.example/scgen"
SECTION = "devel"
# SPDX expression syntax: the OE-Core tested here warns that the legacy
# "MIT | Apache-2.0" form is deprecated.
LICENSE = "MIT OR Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=55ae67e5fd252b9c35bea48ee5e4115e \
                    file://LICENSE-APACHE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# Where the sources come from: one variable.
#
# Empty (the default): the scgen checkout this layer lives in (the layer is
# its meta-scgen/ directory), for development. The files cargo needs are
# listed one by one as file:// URIs found through FILESEXTRAPATHS: the
# manifest, the lock file, src/, what src/ embeds with include_str!
# (templates/ and profiles/default.toml), and benches/, because the
# manifest names a benchmark there and cargo reads every target it names
# (it builds none of them here). Not externalsrc: that class is
# devtool's way to build a tree under development; it disables sstate for
# the recipe and re-parses it on every run. file:// sources are checksummed
# per file, so sstate, the archiver, SPDX and devtool work as for any other
# recipe. `subdir=${BP}` lands them where OE-Core's default S expects them.
#
# A release, in local.conf or a distro config, pinned in the URL itself:
#   SCGEN_SRC_URI = "git://example.com/scgen.git;protocol=https;branch=main;tag=v${PV};rev=<commit of the tag>"
# (the git fetcher checks that the tag names that commit), or a tarball
# whose top directory is scgen-${PV}:
#   SCGEN_SRC_URI = "https://example.com/scgen-${PV}.tar.gz;sha256sum=<sha256>"
# Both land in S = ${UNPACKDIR}/${BP}, as the checkout does.
SCGEN_SRC_URI ??= ""
SCGEN_CHECKOUT_URI = "\
    file://Cargo.toml;subdir=${BP} \
    file://Cargo.lock;subdir=${BP} \
    file://LICENSE-MIT;subdir=${BP} \
    file://LICENSE-APACHE;subdir=${BP} \
    file://src;subdir=${BP} \
    file://templates;subdir=${BP} \
    file://profiles/default.toml;subdir=${BP} \
    file://benches;subdir=${BP} \
"
FILESEXTRAPATHS:prepend := "${THISDIR}/../../..:"
SRC_URI = "${@d.getVar('SCGEN_SRC_URI') or d.getVar('SCGEN_CHECKOUT_URI')}"

# Every registry crate of Cargo.lock as crate:// with its sha256, fetched by
# BitBake and vendored by the cargo class (cargo then builds --frozen).
# After a change to Cargo.lock: bitbake -c update_crates scgen
require ${BPN}-crates.inc

inherit cargo cargo-update-recipe-crates bash-completion

# Cargo.toml's release profile strips the binary (`strip = true`). Leave that
# to OE-Core, which splits the debug info into ${PN}-dbg; a binary stripped by
# cargo fails the already-stripped QA check. Cargo takes a profile setting
# from the environment over the manifest's.
export CARGO_PROFILE_RELEASE_STRIP = "false"

# The man page and the bash completion come from the clap definition, printed
# by a scgen that runs on the build host: scgen-native for the device's and
# the SDK's scgen (their own binary cannot run here), the binary just built
# for scgen-native itself.
DEPENDS:append:class-target = " scgen-native"
DEPENDS:append:class-nativesdk = " scgen-native"
SCGEN_HOST_BIN = "scgen"
SCGEN_HOST_BIN:class-native = "${D}${bindir}/scgen"

do_install:append () {
	install -d ${D}${mandir}/man1 ${D}${datadir}/bash-completion/completions
	${SCGEN_HOST_BIN} man > ${D}${mandir}/man1/scgen.1
	${SCGEN_HOST_BIN} completions bash > ${D}${datadir}/bash-completion/completions/scgen
	chmod 0644 ${D}${mandir}/man1/scgen.1 ${D}${datadir}/bash-completion/completions/scgen
}

# On the device, `scgen stage` runs `busybox --list` (the applets to link in
# each container) and binds the device's init.lxc and, with a network
# gateway, iptables. busybox it always needs; init.lxc comes with LXC (from
# meta-virtualization), which also runs the lxc-create drop-in, and iptables
# only for some profiles: recipes that inherit scgen add it when they do.
# lxc is recommended only when meta-virtualization is in the build
# (LAYERRECOMMENDS): BitBake refuses a runtime recommendation nothing provides.
RDEPENDS:${PN}:append:class-target = " busybox"
RRECOMMENDS:${PN}:append:class-target = " ${@bb.utils.contains('BBFILE_COLLECTIONS', 'virtualization-layer', 'lxc', '', d)}"

# scgen-native runs `scgen gen` in do_compile of recipes that inherit
# scgen.bbclass; the target scgen runs `scgen stage` from the drop-in when
# lxc-create makes a container.
BBCLASSEXTEND = "native nativesdk"
