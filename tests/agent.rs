//! SoftwareContainer's own agent, for real (issue 14).

mod common;

use common::softwarecontainer::{self as sc, Variant};

/// Both builds the agent tests use come from the cache, and each installs
/// the agent, the compiled-in template path and the LXC config.
#[test]
fn softwarecontainer_builds_once_per_variant() {
    if !sc::tools_ready() {
        return;
    }
    for on in [false, true] {
        let i = sc::build(&Variant::network(on));
        assert!(i.agent().is_file());
        assert!(i.template().is_file(), "{}", i.template().display());
        assert!(i.lxc_config().is_file(), "{}", i.lxc_config().display());
        assert!(i.policy().is_file());
    }
}
