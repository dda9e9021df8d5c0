/* nosys: runs a program with some system calls answered by ENOSYS, as a
 * kernel (or qemu-user) without them would answer. The tests use it to
 * force scgen stage onto the paths it takes where openat2 (Linux 5.6),
 * getrandom or renameat2 are missing.
 *
 *   nosys CALL[,CALL...] PROGRAM [ARG...]
 *
 * CALL is one of openat2, getrandom, renameat2, answered with ENOSYS, or
 * CALL:EPERM for a policy that refuses it (as older container runtimes'
 * seccomp profiles answer calls they do not know). The filter is a plain
 * seccomp BPF program; it is checked (openat2 must really fail with
 * ENOSYS) before PROGRAM is executed, so a filter that did nothing cannot
 * pass for the fallback. Children inherit it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__)
#define ARCH AUDIT_ARCH_ARM
#else
#error "nosys: unknown architecture"
#endif

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static int number(const char *name) {
  if (!strcmp(name, "openat2")) return SYS_openat2;
  if (!strcmp(name, "getrandom")) return SYS_getrandom;
  if (!strcmp(name, "renameat2")) return SYS_renameat2;
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nosys CALL[,CALL...] PROGRAM [ARG...]\n");
    return 64;
  }
  struct sock_filter f[64];
  int n = 0;
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  char list[256];
  snprintf(list, sizeof list, "%s", argv[1]);
  for (char *save, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
    int err = ENOSYS;
    char *colon = strchr(c, ':');
    if (colon && !strcmp(colon, ":EPERM")) {
      *colon = 0;
      err = EPERM;
    }
    int nr = number(c);
    if (nr < 0 || n > 60) {
      fprintf(stderr, "nosys: unknown or too many calls: %s\n", c);
      return 64;
    }
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err);
  }
  f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  /* Root may install a filter without no_new_privs; others need it. */
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
      perror("nosys: seccomp");
      return 71;
    }
  }
  if (strstr(argv[1], "openat2")) {
    long r = syscall(SYS_openat2, AT_FDCWD, "/", (void *)0, (size_t)0);
    if (r != -1 || (errno != ENOSYS && errno != EPERM)) {
      fprintf(stderr, "nosys: the filter did not take: openat2 gave %ld (%s)\n", r, strerror(errno));
      return 71;
    }
  }
  execv(argv[2], argv + 2);
  perror("nosys: exec");
  return 127;
}
