//! Checked values of the `[security]` table: capability names, device
//! allowlist rules and cgroup limits. Each lands in an LXC config line, so
//! each is one word (or the fixed shape of a device rule) of known
//! characters.

use serde::{Deserialize, Serialize};

use std::fmt;

use super::{short, Invalid};

/// The capabilities Linux knows (capability.h, as of 6.x), by the name LXC
/// takes in `lxc.cap.keep` / `lxc.cap.drop`: lower case, no `CAP_`.
pub const CAPABILITIES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// One capability, as LXC names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Capability(String);
string_value!(Capability);

impl Capability {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let name = value.to_ascii_lowercase();
        let name = name.strip_prefix("cap_").unwrap_or(&name);
        if CAPABILITIES.contains(&name) {
            return Ok(Capability(name.to_string()));
        }
        let hint = crate::diag::did_you_mean(name, CAPABILITIES.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                "a name from capabilities(7) without `CAP_`, e.g. `net_admin`".into()
            });
        Err(Invalid::new(
            format!("`{}` is not a Linux capability", short(value)),
            Some(&hint),
        ))
    }

    /// Its bit in `/proc/<pid>/status`'s Cap* masks.
    pub fn bit(&self) -> u32 {
        CAPABILITIES
            .iter()
            .position(|c| *c == self.0)
            .expect("parsed") as u32
    }
}

/// One device cgroup rule, `TYPE MAJOR:MINOR ACCESS` as the kernel's
/// devices.allow and LXC's `lxc.cgroup2.devices.allow` read it: type `a`,
/// `b` or `c`; major and minor a number or `*`; access some of `rwm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeviceRule(String);
string_value!(DeviceRule);

impl DeviceRule {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                format!("{:?} is not a device rule", short(value)),
                Some("write `TYPE MAJOR:MINOR ACCESS`, e.g. `c 1:3 rwm` (type a, b or c; `*` for any number; access of r, w, m)"),
            )
        };
        let words: Vec<&str> = value.split(' ').collect();
        let [kind, numbers, access] = words[..] else {
            return Err(bad());
        };
        let number = |n: &str| {
            n == "*" || (!n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit()))
        };
        let numbers_ok = numbers
            .split_once(':')
            .is_some_and(|(a, b)| number(a) && number(b));
        let access_ok = !access.is_empty()
            && access.len() <= 3
            && access.bytes().all(|b| matches!(b, b'r' | b'w' | b'm'));
        match matches!(kind, "a" | "b" | "c") && numbers_ok && access_ok {
            true => Ok(DeviceRule(value.to_string())),
            false => Err(bad()),
        }
    }
}

/// A cgroup2 limit value: a number with an optional K, M or G suffix (as
/// memory.max reads it), or `max` for none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Limit(String);
string_value!(Limit);

impl Limit {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let digits = value.strip_suffix(['K', 'M', 'G']).unwrap_or(value);
        let ok = value == "max"
            || (!digits.is_empty()
                && digits.len() <= 19
                && digits.bytes().all(|b| b.is_ascii_digit())
                && digits.bytes().any(|b| b != b'0'));
        match ok {
            true => Ok(Limit(value.to_string())),
            false => Err(Invalid::new(
                format!("{:?} is not a cgroup limit", short(value)),
                Some(
                    "a positive number, optionally with K, M or G (`512M`), or `max` for no limit",
                ),
            )),
        }
    }

    /// `max`: no limit, so no config line.
    pub fn is_max(&self) -> bool {
        self.0 == "max"
    }

    /// The limit in bytes (K, M and G are powers of 1024, as cgroup2 and
    /// tmpfs read them); `None` for `max`, or past `u64`.
    pub fn bytes(&self) -> Option<u64> {
        let shift = match self.0.chars().last()? {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            _ => 0,
        };
        let digits = self.0.strip_suffix(['K', 'M', 'G']).unwrap_or(&self.0);
        digits.parse::<u64>().ok()?.checked_mul(1 << shift)
    }
}

/// The keys of an io rule, in cgroup2 `io.max`'s words, with the cgroup v1
/// `blkio.throttle.*` file each one is.
pub const IO_KEYS: [(&str, &str); 4] = [
    ("rbps", "read_bps_device"),
    ("wbps", "write_bps_device"),
    ("riops", "read_iops_device"),
    ("wiops", "write_iops_device"),
];

/// One io bound, `MAJOR:MINOR KEY=N...` as cgroup2's `io.max` reads it
/// (keys `rbps`, `wbps`, `riops`, `wiops`, each at most once, N a positive
/// number): bytes or operations per second on one block device. A bound
/// names a device, so there is no default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoRule {
    /// `MAJOR:MINOR`.
    pub device: String,
    /// `(cgroup2 key, cgroup v1 file, N)` in the order written.
    pub limits: Vec<(String, String, u64)>,
}

impl IoRule {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                format!("{:?} is not an io rule", short(value)),
                Some("write `MAJOR:MINOR KEY=N ...`, e.g. `179:0 wbps=10485760 wiops=1000` (keys rbps, wbps, riops, wiops; N a positive number)"),
            )
        };
        let mut words = value.split(' ');
        let device = words.next().unwrap_or("");
        let number =
            |n: &str| !n.is_empty() && n.len() <= 10 && n.bytes().all(|b| b.is_ascii_digit());
        if !device
            .split_once(':')
            .is_some_and(|(a, b)| number(a) && number(b))
        {
            return Err(bad());
        }
        let mut limits: Vec<(String, String, u64)> = Vec::new();
        for w in words {
            let (k, n) = w.split_once('=').ok_or_else(bad)?;
            let v1 = IO_KEYS.iter().find(|(key, _)| *key == k).ok_or_else(bad)?.1;
            let n: u64 = match n.parse::<u64>() {
                Ok(v) if v > 0 && v.to_string() == n => v,
                _ => return Err(bad()),
            };
            if limits.iter().any(|(key, _, _)| key == k) {
                return Err(bad());
            }
            limits.push((k.to_string(), v1.to_string(), n));
        }
        match limits.is_empty() {
            true => Err(bad()),
            false => Ok(IoRule {
                device: device.to_string(),
                limits,
            }),
        }
    }
}

/// The period `cpu-max` is written for, in microseconds: the kernel's
/// default CFS period (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

/// A cpu limit: CPUs' worth of time, a decimal with at most two places
/// (`"0.5"`: half of one CPU; `"2"`: two), or `max` for none. Kept as the
/// quota per [`CPU_PERIOD_US`], which both cgroup layouts take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax(Option<u64>);

impl CpuMax {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if value == "max" {
            return Ok(CpuMax(None));
        }
        let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        let quota = (!whole.is_empty() && whole.len() <= 4 && frac.len() <= 2)
            .then_some(())
            .filter(|()| digits(whole) && digits(frac) && !value.ends_with('.'))
            .and_then(|()| {
                let w: u64 = whole.parse().ok()?;
                let f: u64 = format!("{frac:0<2}").parse().ok()?;
                Some((w * 100 + f) * (CPU_PERIOD_US / 100))
            })
            .filter(|q| (1_000..=1024 * CPU_PERIOD_US).contains(q));
        match quota {
            Some(q) => Ok(CpuMax(Some(q))),
            None => Err(Invalid::new(
                format!("{:?} is not a cpu limit", short(value)),
                Some("CPUs' worth of time from 0.01 to 1024, at most two decimals (`0.5`, `2`), or `max` for no limit"),
            )),
        }
    }

    /// The quota in microseconds per [`CPU_PERIOD_US`]; `None` for `max`.
    pub fn quota_us(&self) -> Option<u64> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_in_bytes_use_powers_of_1024() {
        let bytes = |s: &str| Limit::parse(s).unwrap().bytes();
        assert_eq!(bytes("100M"), Some(100 << 20));
        assert_eq!(bytes("3K"), Some(3072));
        assert_eq!(bytes("2G"), Some(2 << 30));
        assert_eq!(bytes("4096"), Some(4096));
        assert_eq!(bytes("max"), None);
        assert_eq!(bytes("9999999999999999999G"), None);
    }

    #[test]
    fn capability_names_take_lxc_spelling() {
        assert_eq!(
            Capability::parse("CAP_NET_ADMIN").unwrap().as_str(),
            "net_admin"
        );
        assert_eq!(Capability::parse("sys_admin").unwrap().bit(), 21);
        assert_eq!(Capability::parse("checkpoint_restore").unwrap().bit(), 40);
        assert!(Capability::parse("net_admin\nlxc.x = y").is_err());
        assert!(Capability::parse("sysadmin")
            .unwrap_err()
            .hint
            .unwrap()
            .contains("sys_admin"));
    }

    #[test]
    fn device_rules_have_the_kernel_shape() {
        for ok in ["c 1:3 rwm", "c 136:* rw", "a *:* m", "b 8:0 r"] {
            assert!(DeviceRule::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "c 1:3",
            "x 1:3 r",
            "c 1:3 rwx",
            "c 1:3  r",
            "c a:3 r",
            "c 1:3 r\n",
            "c 1:3 r # x",
        ] {
            assert!(DeviceRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_are_numbers_or_max() {
        for ok in ["512M", "1024", "max", "2G"] {
            assert!(Limit::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0", "-1", "1T", "12 M", "max\n"] {
            assert!(Limit::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn io_rules_name_a_device_and_known_keys() {
        let r = IoRule::parse("179:0 wbps=10485760 riops=100").unwrap();
        assert_eq!(r.device, "179:0");
        assert_eq!(
            r.limits[0],
            ("wbps".into(), "write_bps_device".into(), 10485760)
        );
        assert_eq!(
            r.limits[1],
            ("riops".into(), "read_iops_device".into(), 100)
        );
        for bad in [
            "",
            "179:0",
            "8:0 wbps=0",
            "8:0 wbps=01",
            "8:0 wbps=1 wbps=2",
            "8 wbps=1",
            "a:0 wbps=1",
            "8:0 bps=1",
            "8:0  wbps=1",
            "8:0 wbps=1\nlxc.x = y",
            "8:0 wbps=max",
        ] {
            assert!(IoRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cpu_limits_are_cpus_with_two_decimals_or_max() {
        for (ok, quota) in [
            ("1", Some(100_000)),
            ("0.5", Some(50_000)),
            ("0.05", Some(5_000)),
            ("2.25", Some(225_000)),
            ("1024", Some(102_400_000)),
            ("max", None),
        ] {
            assert_eq!(CpuMax::parse(ok).map(|c| c.quota_us()), Ok(quota), "{ok}");
        }
        for bad in [
            "", "0", "0.00", "0.001", "1.", ".5", "-1", "1025", "1e3", "one", " 1",
        ] {
            assert!(CpuMax::parse(bad).is_err(), "{bad:?}");
        }
    }
}
