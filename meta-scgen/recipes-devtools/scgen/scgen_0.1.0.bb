# scgen, a pinned release: the tag v${PV} at SRCREV (the git fetcher checks
# that the tag names that commit). The default recipe. To work on scgen,
# `devtool modify scgen` checks this release out into a workspace; to build
# the checkout this layer sits in, ../scgen-git/scgen_git.bb (never the
# default) is chosen with
#   PREFERRED_VERSION_scgen = "${PV}+git"
#   PREFERRED_VERSION_scgen-native = "${PV}+git"
# The server is the project's own placeholder host (see HOMEPAGE in
# scgen.inc) until it has a public one.
require scgen.inc

SRC_URI = "git://r-seed-59822b2b.example/scgen.git;protocol=https;branch=main;tag=v${PV}"
SRCREV = "0742c009677cf9c69fe074c166215b8cab38ab9b"

# After SRC_URI is set: the registry crates of this recipe's Cargo.lock (bitbake -c update_crates
# scgen rewrites the one of the recipe it runs for), and the licences of
# every crate linked in (tests/yocto.rs generates them from cargo metadata).
require scgen-crates.inc
require scgen-licenses.inc
