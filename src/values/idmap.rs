//! `container.idmap`: the user-namespace id map of a container, one LXC
//! `lxc.idmap` line (`u|g NSID HOSTID RANGE`) per entry. With a map the
//! container's root is not the host's root, so a map that hands it the
//! host's root, or one the kernel would refuse when LXC writes
//! `/proc/<pid>/uid_map`, is refused here, at `gen`, instead of at the
//! first `lxc-start`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{short, Invalid};

/// The kernel's limit of lines per `uid_map`/`gid_map` (Linux >= 4.15).
pub const MAX_EXTENTS: usize = 340;

/// One range of ids: `range` ids from `ns` in the container are `host`...
/// on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// `u` (user ids) or `g` (group ids): the only two `lxc.idmap` takes.
    pub kind: char,
    pub ns: u32,
    pub host: u32,
    pub range: u32,
}

const HINT: &str = "write `u 0 100000 65536` (kind, first id in the container, first id on the \
                    host, count), one entry for user ids and one for group ids";

impl IdMap {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let fields: Vec<&str> = value.split_ascii_whitespace().collect();
        let [kind, ns, host, range] = fields[..] else {
            return Err(Invalid::new(
                format!(
                    "{:?} is not four fields `u|g NSID HOSTID RANGE`",
                    short(value)
                ),
                Some(HINT),
            ));
        };
        let kind = match kind {
            "u" => 'u',
            "g" => 'g',
            other => return Err(Invalid::new(
                format!("kind {:?} is neither `u` nor `g`", short(other)),
                Some(
                    "LXC's `lxc.idmap` maps user ids (`u`) and group ids (`g`) in separate entries",
                ),
            )),
        };
        let number = |what: &str, s: &str| {
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Invalid::new(
                    format!("{what} {:?} is not a decimal number", short(s)),
                    Some(HINT),
                ));
            }
            s.parse::<u32>().map_err(|_| {
                Invalid::new(
                    format!("{what} {:?} is above 4294967294", short(s)),
                    Some(HINT),
                )
            })
        };
        let map = IdMap {
            kind,
            ns: number("the container id", ns)?,
            host: number("the host id", host)?,
            range: number("the count", range)?,
        };
        if map.range == 0 {
            return Err(Invalid::new("the count is 0", Some(HINT)));
        }
        // The kernel takes ids up to 2^32 - 2 ((uid_t)-1 is "no id").
        for (what, first) in [("container", map.ns), ("host", map.host)] {
            if u64::from(first) + u64::from(map.range) > u64::from(u32::MAX) {
                return Err(Invalid::new(
                    format!(
                        "the {what} ids {first}..{} go beyond 4294967294",
                        u64::from(first) + u64::from(map.range) - 1
                    ),
                    Some(HINT),
                ));
            }
        }
        if map.host == 0 {
            return Err(Invalid::new(
                "maps the host's id 0 (root) into the container: the point of an id map is \
                 that the container's root is not the host's",
                Some("map a range of unused host ids, e.g. `u 0 100000 65536`, listed in /etc/subuid and /etc/subgid for root"),
            ));
        }
        Ok(map)
    }

    fn host_end(&self) -> u64 {
        u64::from(self.host) + u64::from(self.range)
    }

    fn ns_end(&self) -> u64 {
        u64::from(self.ns) + u64::from(self.range)
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.kind, self.ns, self.host, self.range)
    }
}

impl Serialize for IdMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IdMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        IdMap::parse(&text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// The rules over a whole map, each as the kernel or LXC applies them:
/// both kinds present and mapping the container's root (LXC runs the
/// container and its template as id 0), no two ranges of a kind
/// overlapping in the container or on the host (the kernel refuses the
/// write), at most [`MAX_EXTENTS`] per kind. `Err` holds the index of the
/// entry at fault (`None`: the map as a whole).
pub fn check_map(maps: &[IdMap]) -> Result<(), (Option<usize>, Invalid)> {
    for kind in ['u', 'g'] {
        let name = if kind == 'u' { "user" } else { "group" };
        let of_kind: Vec<(usize, &IdMap)> = maps
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == kind)
            .collect();
        if !of_kind.iter().any(|(_, m)| m.ns == 0) {
            return Err((
                None,
                Invalid::new(
                    format!("no `{kind}` entry maps {name} id 0, the container's root"),
                    Some(&format!(
                        "add e.g. `{kind} 0 100000 65536`: LXC runs the container and its template as root in the namespace"
                    )),
                ),
            ));
        }
        if of_kind.len() > MAX_EXTENTS {
            return Err((
                Some(of_kind[MAX_EXTENTS].0),
                Invalid::new(
                    format!(
                        "more than {MAX_EXTENTS} `{kind}` entries (the kernel's limit per map)"
                    ),
                    None,
                ),
            ));
        }
        for (n, (i, a)) in of_kind.iter().enumerate() {
            for (j, b) in &of_kind[..n] {
                let ns = u64::from(a.ns) < b.ns_end() && u64::from(b.ns) < a.ns_end();
                let host = u64::from(a.host) < b.host_end() && u64::from(b.host) < a.host_end();
                if ns || host {
                    return Err((
                        Some(*i),
                        Invalid::new(
                            format!(
                                "`{a}` overlaps `{b}` (entry {j}) {}: the kernel refuses such a map",
                                if ns { "in the container" } else { "on the host" }
                            ),
                            Some("give each range its own ids"),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(lines: &[&str]) -> Vec<IdMap> {
        lines.iter().map(|l| IdMap::parse(l).unwrap()).collect()
    }

    #[test]
    fn parses_and_prints_lxc_lines() {
        let m = IdMap::parse("  u 0\t100000 65536 ").unwrap();
        assert_eq!(
            m,
            IdMap {
                kind: 'u',
                ns: 0,
                host: 100000,
                range: 65536
            }
        );
        assert_eq!(m.to_string(), "u 0 100000 65536");
    }

    #[test]
    fn refuses_what_lxc_or_the_kernel_would() {
        for bad in [
            "",
            "u 0 100000",
            "u 0 100000 65536 1",
            "b 0 100000 65536",
            "U 0 100000 65536",
            "u -1 100000 65536",
            "u 0 +100000 65536",
            "u 0 0x10 65536",
            "u 0 100000 0",
            "u 0 4294967295 1",
            "u 4294967290 100000 10",
            "u 0 0 65536",
            "u 0 100000 65536\nlxc.cap.keep = sys_admin",
        ] {
            assert!(IdMap::parse(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn the_map_needs_both_roots_and_no_overlap() {
        assert!(check_map(&map(&["u 0 100000 65536", "g 0 100000 65536"])).is_ok());
        assert!(check_map(&map(&[
            "u 0 100000 1000",
            "u 1000 300000 10",
            "g 0 100000 65536"
        ]))
        .is_ok());
        let e = check_map(&map(&["u 0 100000 65536"])).unwrap_err();
        assert_eq!(e.0, None);
        assert!(e.1.message.contains("`g`"), "{}", e.1.message);
        let e = check_map(&map(&["u 1 100000 65536", "g 0 100000 65536"])).unwrap_err();
        assert!(e.1.message.contains("user id 0"), "{}", e.1.message);
        let e = check_map(&map(&[
            "u 0 100000 65536",
            "u 100 300000 1",
            "g 0 100000 65536",
        ]))
        .unwrap_err();
        assert_eq!(e.0, Some(1));
        assert!(e.1.message.contains("in the container"));
        let e = check_map(&map(&[
            "g 0 100000 65536",
            "u 0 100000 10",
            "u 10 100005 1",
        ]))
        .unwrap_err();
        assert_eq!(e.0, Some(2));
        assert!(e.1.message.contains("on the host"));
    }
}
