/* Hostile-app probe for tests/privileges.rs, run inside a container the way
 * SoftwareContainer's agent runs jobs (lxc-attach after `env sleep`).
 * Each attempt prints `name=RESULT` (`ok` or the errno name).
 *
 * Every attempt is harmless to the host if it wrongly succeeds: a module
 * image of garbage, mounts in the container's own mount namespace, a device
 * node in the container's /probe-dir, settimeofday with no time (a
 * permission check only), a bpf map freed at exit, sysctls judged by
 * open(O_WRONLY) and close, never a write, new namespaces that die with a
 * child that exits at once, network changes that set the current MTU and
 * MAC again in the container's own network namespace, and the filesystem
 * ioctls and fanotify only on /gateways, which the test binds from a
 * scratch loop-mounted filesystem: a freeze is thawed at once, the trim
 * asks for a range past the end (EINVAL) and the shutdown for a flag that
 * does not exist (EINVAL). The kernel checks the capability before the
 * argument, so EPERM and EINVAL tell the two apart.
 *
 * Modes: `app` (the hostile app), `sweep` (every mount flag set against a
 * path that does not exist: the filter refuses with EPERM before the
 * kernel's lookup says ENOENT), `agent` (run with the agent's rights, the
 * caller's capabilities: what the allowed mount calls do to mounts that
 * would uncover something). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/fanotify.h>
#include <linux/fs.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXT4_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#define HIGH (1UL << 32)

static void report(const char *name, long rc)
{
    if (rc >= 0)
        printf("%s=ok\n", name);
    else
        printf("%s=%s\n", name, strerrorname_np(errno));
    errno = 0;
}

/* A child in new namespaces that exits at once: 0 once it was created and
 * exited 0. */
static long try_clone(unsigned long flags)
{
    int status;
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return -1;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = ECHILD;
        return -1;
    }
    return 0;
}

static long try_clone3(uint64_t flags)
{
    uint64_t args[8] = {0}; /* struct clone_args, CLONE_ARGS_SIZE_VER0 */
    int status;
    long pid;
    args[0] = flags;
    args[4] = SIGCHLD; /* exit_signal */
    pid = syscall(SYS_clone3, args, sizeof args);
    if (pid == 0)
        _exit(0);
    if (pid < 0)
        return -1;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = ECHILD;
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    unsigned long flag;
} NEW[] = {
    {"ns", CLONE_NEWNS},   {"cgroup", CLONE_NEWCGROUP}, {"uts", CLONE_NEWUTS},
    {"ipc", CLONE_NEWIPC}, {"user", CLONE_NEWUSER},     {"pid", CLONE_NEWPID},
    {"net", CLONE_NEWNET},
};

/* The mount's flags as statvfs reports them. */
static void flags(const char *name, const char *path)
{
    struct statvfs s;
    if (statvfs(path, &s) != 0) {
        report(name, -1);
        return;
    }
    printf("%s=%s%s%s%s\n", name, s.f_flag & ST_RDONLY ? "ro" : "rw",
           s.f_flag & ST_NOSUID ? ",nosuid" : "", s.f_flag & ST_NODEV ? ",nodev" : "",
           s.f_flag & ST_NOEXEC ? ",noexec" : "");
}

/* open(O_WRONLY) and close: the write permission, never a write. */
static long writable(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static void net(void)
{
    struct ifreq ifr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(s, SIOCGIFMTU, &ifr) != 0)
        report("set_mtu", -1);
    else
        report("set_mtu", ioctl(s, SIOCSIFMTU, &ifr));
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0)
        report("set_mac", -1);
    else
        report("set_mac", ioctl(s, SIOCSIFHWADDR, &ifr));
    close(s);
    s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    report("packet_raw", s);
    if (s >= 0)
        close(s);
}

/* fanotify and the filesystem ioctls on the scratch filesystem. */
static void filesystem(void)
{
    struct fstrim_range range = {.start = UINT64_MAX / 2, .len = UINT64_MAX / 2, .minlen = 0};
    uint32_t bad_flag = 0xffff;
    int fd = open("/gateways", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    long an;
    int g;

    /* With fd -1 the kernel says EBADF: EPERM is the filter's alone. */
    report("fifreeze_badfd", syscall(SYS_ioctl, -1, FIFREEZE, 0));
    report("fithaw_badfd", syscall(SYS_ioctl, -1, FITHAW, 0));
    report("fitrim_badfd", syscall(SYS_ioctl, -1, FITRIM, 0));
    report("shutdown_badfd", syscall(SYS_ioctl, -1, EXT4_IOC_SHUTDOWN, 0));
    /* The kernel reads the command's low 32 bits only. */
    report("fifreeze_high_badfd", syscall(SYS_ioctl, -1, HIGH | FIFREEZE, 0));
    report("fanotify_mark_badfd",
           syscall(SYS_fanotify_mark, -1, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD,
                   "/gateways"));
    /* What an unprivileged process may have since Linux 5.13. */
    an = syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_CLOEXEC, O_RDONLY);
    report("fanotify_init_fid", an);
    if (an >= 0)
        close(an);

    /* Nothing frozen: EINVAL once past the capability check. */
    report("fithaw", ioctl(fd, FITHAW, 0));
    an = ioctl(fd, FIFREEZE, 0);
    report("fifreeze", an);
    if (an == 0)
        report("fifreeze_thawed", ioctl(fd, FITHAW, 0));
    report("fitrim", ioctl(fd, FITRIM, &range));
    report("shutdown", ioctl(fd, EXT4_IOC_SHUTDOWN, &bad_flag));

    /* Host files through fanotify: a filesystem-wide mark, then a file
     * opened there arrives as an open descriptor. */
    g = syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDWR);
    report("fanotify_init", g);
    if (g >= 0) {
        an = syscall(SYS_fanotify_mark, g, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD,
                     "/gateways");
        report("fanotify_mark", an);
        if (an == 0) {
            char buf[4096];
            struct fanotify_event_metadata *m = (void *)buf;
            int f = open("/gateways/hello", O_RDONLY | O_CLOEXEC);
            ssize_t n;
            if (f >= 0)
                close(f);
            n = read(g, buf, sizeof buf);
            if (n >= (ssize_t)sizeof *m && m->fd >= 0) {
                printf("fanotify_event_fd=ok\n");
                for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n))
                    if (m->fd >= 0)
                        close(m->fd);
            } else {
                report("fanotify_event_fd", -1);
            }
        }
        close(g);
    } else {
        printf("fanotify_mark=unreached\nfanotify_event_fd=unreached\n");
    }
    if (fd >= 0)
        close(fd);
}

static void namespaces(void)
{
    char name[64];
    for (size_t i = 0; i < sizeof NEW / sizeof *NEW; i++) {
        snprintf(name, sizeof name, "clone_new%s", NEW[i].name);
        report(name, try_clone(NEW[i].flag));
        /* CLONE_SIGHAND without CLONE_VM: the kernel's first check says
         * EINVAL, before any namespace or capability; EPERM is the
         * filter's. */
        snprintf(name, sizeof name, "clone_new%s_filter", NEW[i].name);
        report(name, syscall(SYS_clone, NEW[i].flag | CLONE_SIGHAND | SIGCHLD, 0, NULL, NULL, 0));
    }
    /* The kernel reads the low 32 bits of clone's flags. */
    report("clone_newuser_high_filter",
           syscall(SYS_clone, HIGH | CLONE_NEWUSER | CLONE_SIGHAND | SIGCHLD, 0, NULL, NULL, 0));
    report("clone_plain", try_clone(0));
    report("clone3", try_clone3(0));
    report("clone3_newuser", try_clone3(CLONE_NEWUSER));
    report("unshare", unshare(CLONE_NEWNS));
    report("setns", setns(-1, 0));
}

/* A system call through the i386 entry (int 0x80): the filter has a
 * branch per architecture, and each must refuse what the x86_64 one
 * does. Arguments are 32-bit: the strings live in the static binary's
 * data, below 4 GiB. */
static long i386_call(long nr, long a, long b, long c, long d)
{
    long ret;
    /* The fifth argument (edi) is 0: mount's data, no options. */
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(0L)
                     : "memory");
    if (ret < 0 && ret > -4096) {
        errno = -ret;
        return -1;
    }
    return ret;
}

static void i386_entry(void)
{
    static const char src[] = "/no-such-src", dst[] = "/no-such";
    static unsigned long passed[1 << 14];
    size_t n = 0;
    long fd;

    report("i386_mount_bind_move", i386_call(21, (long)src, (long)dst, 0, MS_BIND | MS_MOVE));
    report("i386_mount_move", i386_call(21, (long)src, (long)dst, 0, MS_MOVE));
    report("i386_clone_newuser_filter",
           i386_call(120, CLONE_NEWUSER | CLONE_SIGHAND | SIGCHLD, 0, 0, 0));
    report("i386_clone3", i386_call(435, 0, 0, 0, 0));
    report("i386_fifreeze_badfd", i386_call(54, -1, FIFREEZE, 0, 0));
    report("i386_shutdown_badfd", i386_call(54, -1, EXT4_IOC_SHUTDOWN, 0, 0));
    fd = i386_call(338, FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_CLOEXEC, O_RDONLY, 0, 0);
    report("i386_fanotify_init_fid", fd);
    if (fd >= 0)
        close(fd);
    /* fanotify_mark(fd, flags, mask_lo, mask_hi, dirfd, path): fd first. */
    report("i386_fanotify_mark_badfd",
           i386_call(339, -1, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, 0));
    for (unsigned long f = 0; f < (1UL << 14); f++)
        if (i386_call(21, (long)src, (long)dst, 0, f) == 0 || errno == ENOENT)
            passed[n++] = f;
    printf("i386_sweep_passed=");
    for (size_t i = 0; i < n; i++)
        printf("%s%lu", i ? "," : "", passed[i]);
    printf("\n");
}

static void app(void)
{
    char garbage[64] = {0};
    union bpf_attr attr;

    report("init_module", syscall(SYS_init_module, garbage, sizeof garbage, ""));
    mkdir("/probe-dir/t", 0755);
    report("mount_tmpfs", mount("none", "/probe-dir/t", "tmpfs", 0, "size=1m"));
    report("mknod_block", mknod("/probe-dir/blk", S_IFBLK | 0600, makedev(8, 0)));
    report("klog_size", klogctl(10, NULL, 0));
    /* The raw call: glibc's wrapper reads the NULL time. */
    report("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
    report("iopl", iopl(3));
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    report("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
    report("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
    report("umount2", umount2("/no-such-mount", 0));
    report("bind", mount("/probe-dir", "/probe-dir", NULL, MS_BIND, NULL));

    /* Class 1: host root through mount. MS_BIND|MS_MOVE is a bind to the
     * kernel, and a bind of /proc that is not recursive leaves its
     * read-only /proc/sys behind. */
    mkdir("/probe-dir/p", 0755);
    report("bind_move_proc", mount("/proc", "/probe-dir/p", NULL, MS_BIND | MS_MOVE, NULL));
    report("core_pattern_w", writable("/probe-dir/p/sys/kernel/core_pattern"));

    /* The move of /proc/sys: in a shared parent (LXC >= 4 shares the
     * tree) the kernel moves nothing; made private, it moves, and the
     * writable /proc/sys below it shows. */
    mkdir("/probe-dir/ps", 0755);
    mkdir("/probe-dir/ps2", 0755);
    report("move_proc_sys", mount("/proc/sys", "/probe-dir/ps", NULL, MS_MOVE, NULL));
    report("shared_proc", mount(NULL, "/proc", NULL, MS_SHARED, NULL));
    report("private_proc", mount(NULL, "/proc", NULL, MS_PRIVATE, NULL));
    report("move_proc_sys_private", mount("/proc/sys", "/probe-dir/ps2", NULL, MS_MOVE, NULL));
    report("proc_sys_w", writable("/proc/sys/kernel/hostname"));
    report("sysrq_w", writable("/proc/sysrq-trigger"));
    report("sys_w", access("/sys/kernel", W_OK));

    filesystem();
    net();
    namespaces();
    i386_entry();
}

/* Every combination of the mount flag bits 0..13, then each higher bit
 * alone and with each set that passed, and the old MS_MGC_VAL magic with
 * each: the sets that passed the filter, and any answer that is neither. */
static void sweep(void)
{
    static unsigned long passed[1 << 14];
    size_t n = 0, odd = 0;
    unsigned long f;

    for (f = 0; f < (1UL << 14); f++) {
        if (mount("/no-such-src", "/no-such", NULL, f, NULL) == 0 || errno == ENOENT)
            passed[n++] = f;
        else if (errno != EPERM) {
            printf("sweep_odd_%lu=%s\n", f, strerrorname_np(errno));
            odd++;
        }
    }
    printf("sweep_passed=");
    for (size_t i = 0; i < n; i++)
        printf("%s%lu", i ? "," : "", passed[i]);
    printf("\n");
    /* Each higher bit alone and with each of the first 16 sets that
     * passed, and MS_MGC_VAL with each: how many passed, and the first. */
    size_t high = 0;
    unsigned long first = 0;
    for (size_t i = 0; i <= n && i <= 16; i++) {
        unsigned long base = i < n ? passed[i] : 0;
        for (int b = 14; b <= 64; b++) {
            unsigned long g = base | (b == 64 ? 0xC0ED0000UL : 1UL << b);
            if (mount("/no-such-src", "/no-such", NULL, g, NULL) != 0 && errno == EPERM)
                continue;
            if (high++ == 0)
                first = g;
        }
    }
    if (high)
        printf("sweep_high_passed=%zu, the first %#lx\n", high, first);
    else
        printf("sweep_high_passed=none\n");
    printf("sweep_odd=%zu\n", odd);
}

/* With the agent's rights (the caller's capabilities; the container's
 * seccomp still applies): the allowed sets against mounts that would
 * uncover something, and the read-only remount's effect on a mount's
 * nosuid, nodev and noexec (a tmpfs the test adds with those). */
static void agent(void)
{
    mkdir("/probe-dir/ap", 0755);
    mkdir("/probe-dir/aps", 0755);
    report("agent_move_proc_sys", mount("/proc/sys", "/probe-dir/aps", NULL, MS_MOVE, NULL));
    report("agent_bind_move_proc", mount("/proc", "/probe-dir/ap", NULL, MS_BIND | MS_MOVE, NULL));
    report("agent_core_pattern_w", writable("/probe-dir/ap/sys/kernel/core_pattern"));
    flags("agent_flags_before", "/probe-ro");
    /* Upstream's read-only remount: the kernel sets exactly these. */
    report("agent_remount_upstream",
           mount("none", "/probe-ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
    flags("agent_flags_upstream", "/probe-ro");
    report("agent_remount",
           mount("none", "/probe-ro", NULL,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    flags("agent_flags", "/probe-ro");
    report("agent_clone_newuser", try_clone(CLONE_NEWUSER));
    report("agent_clone_newns", try_clone(CLONE_NEWNS));
    report("agent_clone_newnet", try_clone(CLONE_NEWNET));
    report("agent_clone3", try_clone3(0));
}

int main(int argc, char **argv)
{
    const char *container = getenv("container");

    /* Never on a host: LXC sets container=lxc for attached processes, and
     * the test puts /probe-dir into the rootfs only. */
    if (argc != 3 || strcmp(argv[1], "--inside-container") != 0 || !container
        || strcmp(container, "lxc") != 0 || access("/probe-dir", F_OK) != 0) {
        fprintf(stderr, "probe: run only inside a test container\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[2], "app") == 0)
        app();
    else if (strcmp(argv[2], "sweep") == 0)
        sweep();
    else if (strcmp(argv[2], "agent") == 0)
        agent();
    else
        return 2;
    return 0;
}
