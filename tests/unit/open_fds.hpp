// Test helper: the process's open descriptors, to prove a call leaked none.
#pragma once

#include <dirent.h>

#include <cstdlib>
#include <set>

namespace sfw::test {

inline std::set<int> open_fds() {
  std::set<int> fds;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  const int own = dirfd(dir);
  while (const dirent *entry = readdir(dir))
    if (entry->d_name[0] != '.' && atoi(entry->d_name) != own) fds.insert(atoi(entry->d_name));
  closedir(dir);
  return fds;
}

} // namespace sfw::test
