// sfw-weston-warm-up SOCKET_PATH [BOUND_S]: Weston::warm_up for the shell suites (tests/e2e/lib.sh
// sfw_start_weston), so that they and the C++ tests wait for the same thing. Exit 0 once weston keeps pace,
// 1 when it is still slow after BOUND_S (default 120) seconds or cannot be reached; the caller decides.
#include "weston.hpp"

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s SOCKET_PATH [BOUND_S]\n", argv[0]);
    return 64;
  }
  const long bound = argc == 3 ? strtol(argv[2], nullptr, 10) : 120;
  return sfw::test::Weston::warm_up(argv[1], std::chrono::seconds(bound > 0 ? bound : 120)) ? 0 : 1;
}
