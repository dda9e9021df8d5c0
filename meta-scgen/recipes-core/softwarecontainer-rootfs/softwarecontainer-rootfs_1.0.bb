SUMMARY = "SoftwareContainer's LXC config, rootfs skeleton and lxc-create template"
DESCRIPTION = "softwarecontainer.conf, the lxc-softwarecontainer template and the \
rootfs skeleton (tarball, mtree, SHA256SUMS) generated at build time by scgen \
from a TOML profile, with the applet list of the image's busybox."
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/MIT;md5=0835ade698e0bcf8506ecda2f7b4f302"

SRC_URI = "file://softwarecontainer.toml"

# Only file:// sources, unpacked straight into UNPACKDIR, as OE-Core's own
# file-only recipes do. With S = UNPACKDIR, OE-Core does not trust the files'
# mtimes: SOURCE_DATE_EPOCH, and so every mtime in the rootfs tarball, is
# SOURCE_DATE_EPOCH_FALLBACK, whatever the checkout's dates.
S = "${UNPACKDIR}"

inherit scgen

SCGEN_PROFILE = "${UNPACKDIR}/softwarecontainer.toml"

# As upstream SoftwareContainer's ENABLE_NETWORKGATEWAY: a veth on the
# bridge, and the device's iptables bound into each container (the class
# adds iptables to RDEPENDS with the gateway on). Turn it off with
#   PACKAGECONFIG:remove:pn-softwarecontainer-rootfs = "networkgateway"
PACKAGECONFIG ??= "networkgateway"
PACKAGECONFIG[networkgateway] = ",,"
SCGEN_NETWORK_GATEWAY = "${@bb.utils.contains('PACKAGECONFIG', 'networkgateway', 'true', 'false', d)}"

# Nothing to configure or compile: do_scgen generates, the class's
# do_install postfunc installs (below ${datadir}/scgen/${PN} and
# ${sysconfdir}/scgen/${PN}, paths of this recipe's own).
do_configure[noexec] = "1"
do_compile[noexec] = "1"
