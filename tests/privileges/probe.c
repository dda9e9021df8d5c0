/* Privilege probe for tests/privileges.rs, run inside a container the way
 * SoftwareContainer's agent runs jobs (lxc-attach after `env sleep`).
 * Each attempt prints `name=RESULT` (`ok` or the errno name). Every
 * attempt is harmless to the host if it wrongly succeeds: a module image
 * of garbage, a tmpfs in the container's own mount namespace, a device
 * node in the container's /probe-dir, settimeofday with no time (a permission
 * check only), a bpf map freed at exit, a umount of a path that does not
 * exist, a new namespace that dies with the probe, a mount moved inside
 * the container. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

static void report(const char *name, long rc)
{
    if (rc == 0 || (rc > 0 && strcmp(name, "klog_size") == 0))
        printf("%s=ok\n", name);
    else
        printf("%s=%s\n", name, strerrorname_np(errno));
    errno = 0;
}

int main(int argc, char **argv)
{
    char garbage[64] = {0};
    union bpf_attr attr;
    const char *container = getenv("container");

    /* Never on a host: LXC sets container=lxc for attached processes, and
     * the test puts /probe-dir into the rootfs only. */
    if (argc != 2 || strcmp(argv[1], "--inside-container") != 0 || !container
        || strcmp(container, "lxc") != 0 || access("/probe-dir", F_OK) != 0) {
        fprintf(stderr, "probe: run only inside a test container\n");
        return 2;
    }

    report("init_module", syscall(SYS_init_module, garbage, sizeof garbage, ""));
    report("mount_tmpfs", mount("none", "/probe-dir", "tmpfs", 0, "size=1m"));
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
    report("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr) >= 0 ? 0 : -1);
    report("fsopen", syscall(SYS_fsopen, "tmpfs", 0) >= 0 ? 0 : -1);
    report("umount2", umount2("/no-such-mount", 0));
    report("unshare", unshare(CLONE_NEWNS));
    /* The agent's two calls get through the filter: these fail only on
     * their paths (ENOENT), not with EPERM. */
    report("agent_move", mount("/no-such-src", "/probe-dir", NULL, MS_MOVE, NULL));
    report("agent_remount_ro", mount("/no-such", "/no-such", "", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
    report("remount_rw", mount("/no-such", "/no-such", "", MS_REMOUNT | MS_BIND, NULL));
    report("bind", mount("/probe-dir", "/probe-dir", NULL, MS_BIND, NULL));
    /* The one mount call sys_admin still allows cannot uncover the
     * writable /proc/sys: its read-only overmount sits in /proc, a shared
     * mount after LXC's pivot_root, and the kernel moves nothing out of a
     * shared parent (the propagation change that would allow it is
     * refused above). Wrongly allowed, it moves a mount inside the
     * container only, and the access check below shows it. */
    report("move_proc_sys", mount("/proc/sys", "/probe-dir", NULL, MS_MOVE, NULL));
    report("proc_sys_w", access("/proc/sys/kernel/hostname", W_OK));
    report("sysrq_w", access("/proc/sysrq-trigger", W_OK));
    report("sys_w", access("/sys/kernel", W_OK));
    return 0;
}
