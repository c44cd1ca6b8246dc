// without_uring [--expect-exit N] COMMAND ARGS...
// Runs COMMAND with io_uring_setup(2) failing with EPERM, as under Docker's
// default seccomp profile. With --expect-exit, exits 0 when COMMAND exits
// with N and 1 otherwise (CTest then checks that a run reported a skip);
// without it, exits as COMMAND does.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool RefuseIoUringSetup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  int expected = -1;
  if (argc > 2 && std::strcmp(argv[1], "--expect-exit") == 0) {
    expected = std::atoi(argv[2]);
    first = 3;
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: without_uring [--expect-exit N] COMMAND ARGS...\n");
    return 2;
  }
  if (!RefuseIoUringSetup()) {
    std::perror("without_uring: seccomp");
    return 2;
  }
  if (expected < 0) {
    execvp(argv[first], argv + first);
    std::perror("without_uring: execvp");
    return 2;
  }
  const pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    execvp(argv[first], argv + first);
    std::perror("without_uring: execvp");
    _exit(2);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return 2;
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::printf("without_uring: %s exited with %d (expected %d)\n", argv[first], code, expected);
  return code == expected ? 0 : 1;
}
