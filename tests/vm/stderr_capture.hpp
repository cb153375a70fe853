// stderr into a memfd while a StderrCapture lives (WAYLAND_DEBUG and the layer's log write there), with marks
// (tests/vm programs that read what libwayland or the layer printed).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sfw::test {

class StderrCapture {
public:
  StderrCapture() {
    fflush(stderr);
    saved_ = dup(2);
    file_ = memfd_create("sfw-stderr", MFD_CLOEXEC);
    if (saved_ >= 0 && file_ >= 0) dup2(file_, 2);
  }
  ~StderrCapture() { stop(); }
  void mark(const char *name) { fprintf(stderr, "@@mark %s\n", name); }
  // Everything written so far (stops the capture).
  std::string stop() {
    if (saved_ >= 0) {
      fflush(stderr);
      dup2(saved_, 2);
      close(saved_);
      saved_ = -1;
    }
    if (file_ >= 0) {
      off_t size = lseek(file_, 0, SEEK_END);
      text_.resize(size > 0 ? static_cast<size_t>(size) : 0);
      if (size > 0 && pread(file_, text_.data(), text_.size(), 0) != size) text_.clear();
      close(file_);
      file_ = -1;
    }
    return text_;
  }

private:
  int saved_ = -1, file_ = -1;
  std::string text_;
};

} // namespace sfw::test
