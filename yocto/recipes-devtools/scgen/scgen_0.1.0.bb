SUMMARY = "Build-time generator for SoftwareContainer's LXC config and rootfs skeleton"
DESCRIPTION = "scgen turns a TOML profile into SoftwareContainer's static LXC \
config, a reproducible rootfs skeleton and an lxc-create drop-in template; on \
the device, `scgen stage` prepares each container from them."
SECTION = "devel"
# SPDX expression syntax: the OE-Core tested here warns that the legacy
# "MIT | Apache-2.0" form is deprecated.
LICENSE = "MIT OR Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE-MIT;md5=55ae67e5fd252b9c35bea48ee5e4115e \
                    file://LICENSE-APACHE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# The sources are the scgen checkout this layer lives in (the layer is its
# yocto/ directory), listed file by file as file:// URIs found through
# FILESEXTRAPATHS. Not externalsrc: that class is devtool's way to build a tree
# under development; it disables sstate for the recipe and re-parses it on
# every run. file:// sources are checksummed per file, so sstate and the
# archiver, SPDX and devtool work as for any other recipe, and only what cargo
# needs is copied: the manifest, the lock file, src/, and what src/ embeds
# with include_str! (templates/ and profiles/default.toml).
# `subdir=${BP}` lands them where OE-Core's default S expects them.
FILESEXTRAPATHS:prepend := "${THISDIR}/../../..:"
SRC_URI = "\
    file://Cargo.toml;subdir=${BP} \
    file://Cargo.lock;subdir=${BP} \
    file://LICENSE-MIT;subdir=${BP} \
    file://LICENSE-APACHE;subdir=${BP} \
    file://src;subdir=${BP} \
    file://templates;subdir=${BP} \
    file://profiles/default.toml;subdir=${BP} \
"

# Every registry crate of Cargo.lock as crate:// with its sha256, fetched by
# BitBake and vendored by the cargo class (cargo then builds --frozen).
# tests/yocto.rs regenerates it: BLESS=1 cargo test --test yocto
require ${BPN}-crates.inc

inherit cargo

# Cargo.toml's release profile strips the binary (`strip = true`). Leave that
# to OE-Core, which splits the debug info into ${PN}-dbg; a binary stripped by
# cargo fails the already-stripped QA check. Cargo takes a profile setting
# from the environment over the manifest's.
export CARGO_PROFILE_RELEASE_STRIP = "false"

# scgen-native runs `scgen gen` in do_compile of recipes that inherit
# scgen.bbclass; the target scgen runs `scgen stage` from the drop-in when
# lxc-create makes a container.
BBCLASSEXTEND = "native nativesdk"
