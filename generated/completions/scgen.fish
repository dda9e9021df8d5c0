# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_scgen_global_optspecs
    string join \n h/help V/version
end

function __fish_scgen_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_scgen_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_scgen_using_subcommand
    set -l cmd (__fish_scgen_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c scgen -n "__fish_scgen_needs_command" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_needs_command" -s V -l version -d 'Print version'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "gen" -d 'Render profiles into the artifacts: lxc-softwarecontainer, rootfs.mtree, rootfs.tar.gz, seccomp.policy, softwarecontainer.conf, stage.toml, SHA256SUMS'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "stage" -d 'Make one container from installed artifacts: unpack the rootfs, write machine-id and resolv.conf, link busybox applets, and append the host-dependent lines to the container\'s LXC config. Also lxc-create\'s template: it takes `--path=P --name=N --rootfs=R` in any order'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "skeletons" -d 'List, check or prune the shared skeletons of overlay containers (profile `container.rootfs = "overlay"`)'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "subids" -d 'Give root the subordinate ids an id-mapped container needs: add `root:START:COUNT` to /etc/subuid and /etc/subgid for each range of the artifacts\' `container.idmap` that root lacks (LXC maps through newuidmap/newgidmap where they are installed, and they insist)'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "mount-writes" -d 'LXC\'s pre-mount hook for `security.disk-max`, named in the container config by `scgen stage`: mounts a tmpfs of --size bytes on DIR in the container\'s mount namespace, with the overlay\'s upper dir in it, so that what the container writes stays within the bound. Refuses to run as anything but a pre-mount hook'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "verify" -d 'Check a container\'s tree, or a skeleton, against the artifacts\' rootfs.mtree: what is missing, extra or changed (type, mode, owner, link target, size, sha256 digest). Exit 3 if anything differs'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "profile" -d 'Inspect a profile as a build would use it'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "init" -d 'Print a complete, commented profile to start from: every key with its note and the built-in default\'s value'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "schema" -d 'Print the JSON Schema of a profile (for editor completion of TOML)'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "man" -d 'Print a man page (roff): scgen(1), a subcommand\'s, or scgen-profile(5)'
complete -c scgen -n "__fish_scgen_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l profile -d 'Profiles to generate: `--profile a.toml b.toml` (a shell glob) or repeated. Without it: the built-in default' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l out -d 'Directory for the artifacts [default: generated/<profile name>]. Only with a single profile' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l set -d 'Override a profile value, e.g. `--set network.gateway=true` (repeatable)' -r
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l templates -d 'Directory whose templates replace the built-in ones of the same name' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l depfile -d 'Also write a Make/Ninja depfile listing every input of the artifacts' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l format -d 'How to report what was generated' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand gen" -l check -d 'Write nothing; list what is stale, with a diff and the one command that regenerates it, and exit 1. Silent when nothing is stale'
complete -c scgen -n "__fish_scgen_using_subcommand gen" -s q -l quiet -d 'Print no report, only errors (for build systems)'
complete -c scgen -n "__fish_scgen_using_subcommand gen" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l artifacts -d 'Directory of the installed artifacts (holding SHA256SUMS)' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l path -d 'Container directory: its `config` is written (lxc-create\'s --path)' -r -f -a "(__fish_complete_directories)"
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l rootfs -d 'Root filesystem to fill [default: <path>/rootfs]' -r -f -a "(__fish_complete_directories)"
complete -c scgen -n "__fish_scgen_using_subcommand stage" -s n -l name -d 'Container name, as lxc-create passes it; only reported' -r
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l gateway-dir -d 'Host directory to bind on /gateways [default: $GATEWAY_DIR, then the profile\'s]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l busybox -d 'busybox binary to bind into the container [default: found on PATH]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l init-lxc -d 'init.lxc binary to bind into the container [default: found on PATH]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l iptables -d 'iptables binary to bind (network gateway on) [default: found on PATH]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l resolv-conf -d 'resolv.conf to copy into the container [default: /etc/resolv.conf]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l mapped-uid -d 'With lxc.idmap, lxc-create passes the namespace uid of its caller: the container config is given to it (the rootfs stays the container root\'s)' -r
complete -c scgen -n "__fish_scgen_using_subcommand stage" -l mapped-gid -d 'The namespace gid of lxc-create\'s caller, for the container config' -r
complete -c scgen -n "__fish_scgen_using_subcommand stage" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -l store -d 'The skeleton store (the profile\'s `container.skeleton-store`); it must exist. Before or after the subcommand' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -l format -d 'How to report: one line per entry, or a JSON object (`{"store", "skeletons": [{"name", "state", "reason", "users", "action"}], "doubts"}`)' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -f -a "list" -d 'One line per skeleton: name, `ok` or why it fails its check (stamp, owner, tree digest), and the containers using it. Exit 65 if any fails its check'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -f -a "prune" -d 'Remove every skeleton no container under the lxcpaths uses, and the temp dirs of killed fills. A skeleton in use is never removed'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and not __fish_seen_subcommand_from list prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from list" -l lxcpath -d 'An LXC lxcpath whose containers\' configs to read (repeatable)' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from list" -l store -d 'The skeleton store (the profile\'s `container.skeleton-store`); it must exist. Before or after the subcommand' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from list" -l format -d 'How to report: one line per entry, or a JSON object (`{"store", "skeletons": [{"name", "state", "reason", "users", "action"}], "doubts"}`)' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from prune" -l lxcpath -d 'Every lxcpath whose containers may use the store (repeatable)' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from prune" -l store -d 'The skeleton store (the profile\'s `container.skeleton-store`); it must exist. Before or after the subcommand' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from prune" -l format -d 'How to report: one line per entry, or a JSON object (`{"store", "skeletons": [{"name", "state", "reason", "users", "action"}], "doubts"}`)' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from prune" -l dry-run -d 'Remove nothing; report what would be removed (`would remove`)'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from help" -f -a "list" -d 'One line per skeleton: name, `ok` or why it fails its check (stamp, owner, tree digest), and the containers using it. Exit 65 if any fails its check'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove every skeleton no container under the lxcpaths uses, and the temp dirs of killed fills. A skeleton in use is never removed'
complete -c scgen -n "__fish_scgen_using_subcommand skeletons; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand subids" -l artifacts -d 'Directory of the artifacts (holding SHA256SUMS); their stage.toml names the id map' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand subids" -l root -d 'The root filesystem whose /etc/subuid and /etc/subgid to change' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand subids" -l check -d 'Change nothing; exit 67 if root lacks a range'
complete -c scgen -n "__fish_scgen_using_subcommand subids" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand mount-writes" -l size -d 'The tmpfs\'s size in bytes: the profile\'s `security.disk-max`' -r
complete -c scgen -n "__fish_scgen_using_subcommand mount-writes" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand verify" -l artifacts -d 'Directory of the installed artifacts (holding SHA256SUMS)' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand verify" -l owner -d 'Host ids every entry should have [default: the container root\'s under the config\'s lxc.idmap, else 0:0]' -r
complete -c scgen -n "__fish_scgen_using_subcommand verify" -l format -d 'How to report: lines in mtree\'s terms, or one JSON object' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand verify" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and not __fish_seen_subcommand_from show help" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and not __fish_seen_subcommand_from show help" -f -a "show" -d 'Print the merged profile (the built-in default, the `extends` chain, the file and each `--set`, merged) as TOML that loads back to the same profile, or as JSON. Only keys some layer sets are shown; the rest take their computed defaults'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and not __fish_seen_subcommand_from show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from show" -l profile -d 'The profile [default: the built-in default]' -r -F
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from show" -l set -d 'Override a profile value, as `gen --set` (repeatable)' -r
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from show" -l format -d 'TOML, or JSON: the merged table; with `--origin`, a list of `{key, value, origin: {layer, file, line}}`' -r -f -a "text\t''
json\t''"
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from show" -l origin -d 'Say where each value was set: `file:line`, the `--set`, or `built-in profiles/default.toml:line`'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the merged profile (the built-in default, the `extends` chain, the file and each `--set`, merged) as TOML that loads back to the same profile, or as JSON. Only keys some layer sets are shown; the rest take their computed defaults'
complete -c scgen -n "__fish_scgen_using_subcommand profile; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand init" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand schema" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand completions" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand man" -l list -d 'Print the file name of every page, one a line, instead'
complete -c scgen -n "__fish_scgen_using_subcommand man" -s h -l help -d 'Print help'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "gen" -d 'Render profiles into the artifacts: lxc-softwarecontainer, rootfs.mtree, rootfs.tar.gz, seccomp.policy, softwarecontainer.conf, stage.toml, SHA256SUMS'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "stage" -d 'Make one container from installed artifacts: unpack the rootfs, write machine-id and resolv.conf, link busybox applets, and append the host-dependent lines to the container\'s LXC config. Also lxc-create\'s template: it takes `--path=P --name=N --rootfs=R` in any order'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "skeletons" -d 'List, check or prune the shared skeletons of overlay containers (profile `container.rootfs = "overlay"`)'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "subids" -d 'Give root the subordinate ids an id-mapped container needs: add `root:START:COUNT` to /etc/subuid and /etc/subgid for each range of the artifacts\' `container.idmap` that root lacks (LXC maps through newuidmap/newgidmap where they are installed, and they insist)'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "mount-writes" -d 'LXC\'s pre-mount hook for `security.disk-max`, named in the container config by `scgen stage`: mounts a tmpfs of --size bytes on DIR in the container\'s mount namespace, with the overlay\'s upper dir in it, so that what the container writes stays within the bound. Refuses to run as anything but a pre-mount hook'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "verify" -d 'Check a container\'s tree, or a skeleton, against the artifacts\' rootfs.mtree: what is missing, extra or changed (type, mode, owner, link target, size, sha256 digest). Exit 3 if anything differs'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "profile" -d 'Inspect a profile as a build would use it'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "init" -d 'Print a complete, commented profile to start from: every key with its note and the built-in default\'s value'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "schema" -d 'Print the JSON Schema of a profile (for editor completion of TOML)'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "man" -d 'Print a man page (roff): scgen(1), a subcommand\'s, or scgen-profile(5)'
complete -c scgen -n "__fish_scgen_using_subcommand help; and not __fish_seen_subcommand_from gen stage skeletons subids mount-writes verify profile init schema completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scgen -n "__fish_scgen_using_subcommand help; and __fish_seen_subcommand_from skeletons" -f -a "list" -d 'One line per skeleton: name, `ok` or why it fails its check (stamp, owner, tree digest), and the containers using it. Exit 65 if any fails its check'
complete -c scgen -n "__fish_scgen_using_subcommand help; and __fish_seen_subcommand_from skeletons" -f -a "prune" -d 'Remove every skeleton no container under the lxcpaths uses, and the temp dirs of killed fills. A skeleton in use is never removed'
complete -c scgen -n "__fish_scgen_using_subcommand help; and __fish_seen_subcommand_from profile" -f -a "show" -d 'Print the merged profile (the built-in default, the `extends` chain, the file and each `--set`, merged) as TOML that loads back to the same profile, or as JSON. Only keys some layer sets are shown; the rest take their computed defaults'
