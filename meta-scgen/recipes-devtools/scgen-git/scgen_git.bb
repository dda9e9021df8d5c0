# scgen from the checkout this layer sits in (the layer is its meta-scgen/
# directory), for development. DEFAULT_PREFERENCE -1 leaves the pinned
# release (../scgen/scgen_<version>.bb) the default; choose this one with
#   PREFERRED_VERSION_scgen = "0.1.0+git"
#   PREFERRED_VERSION_scgen-native = "0.1.0+git"
require recipes-devtools/scgen/scgen.inc

PV = "0.1.0+git"
DEFAULT_PREFERENCE = "-1"

# The files cargo needs, listed one by one as file:// URIs found through
# FILESEXTRAPATHS: the manifest, the lock file, src/, what src/ embeds with
# include_str! (templates/ and profiles/default.toml), cmake/ (installed for
# find_package(SCGen)) and benches/, because the manifest names a benchmark
# there and cargo reads every target it names (it builds none of them here).
# Not externalsrc: that class is devtool's way to build a tree under
# development; it disables sstate for the recipe and re-parses it on every
# run. file:// sources are checksummed per file, so sstate, the archiver,
# SPDX and devtool work as for any other recipe. `subdir=${BP}` lands them
# where OE-Core's default S expects them.
SRC_URI = "\
    file://Cargo.toml;subdir=${BP} \
    file://Cargo.lock;subdir=${BP} \
    file://LICENSE-MIT;subdir=${BP} \
    file://LICENSE-APACHE;subdir=${BP} \
    file://src;subdir=${BP} \
    file://templates;subdir=${BP} \
    file://profiles/default.toml;subdir=${BP} \
    file://cmake;subdir=${BP} \
    file://benches;subdir=${BP} \
"
FILESEXTRAPATHS:prepend := "${THISDIR}/../../..:"

# After SRC_URI is set: the registry crates of this recipe's Cargo.lock (bitbake -c update_crates
# scgen rewrites the one of the recipe it runs for), and the licences of
# every crate linked in (tests/yocto.rs generates them from cargo metadata).
require scgen-crates.inc
require scgen-licenses.inc
