// The kernel interface without a dma-buf: error values, fd ownership, the empty sync_file, bad
// input, the probe's "no dma-buf" answer and the fault seam. Runs on any Linux (the host has no
// dma-buf exporter); tests/vm/ builds it again to run it on the VM's kernel too.
#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "kernel/unique_fd.hpp"
#include "open_fds.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>

#include <chrono>
#include <set>

using namespace sfw::kernel;
using namespace std::chrono_literals;

namespace {

struct Pipe {
  UniqueFd read, write;
};

Pipe make_pipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

UniqueFd make_memfd() { return UniqueFd(memfd_create("sfw-kernel-test", MFD_CLOEXEC)); }

// A descriptor number that is not open (was a moment ago).
int closed_fd() { return make_pipe().read.get(); }

// A stand-in that is not a sync_file, owned like one.
SyncFile fake_sync_file() { return SyncFile(make_pipe().read); }

bool is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

void expect_error(const Error &e, ErrorCode code, int errnum, const char *call) {
  EXPECT_EQ(e.code, code) << to_string(e);
  EXPECT_EQ(e.errnum, errnum) << to_string(e);
  EXPECT_STREQ(e.call, call);
  EXPECT_NE(to_string(e).find(std::string(call) + " on fd " + std::to_string(e.fd) + ": "), std::string::npos);
}

} // namespace

TEST(KernelError, codes_from_errno) {
  EXPECT_EQ(error_code_from_errno(EBADF), ErrorCode::bad_fd);
  EXPECT_EQ(error_code_from_errno(EINVAL), ErrorCode::invalid_argument);
  EXPECT_EQ(error_code_from_errno(ENOTTY), ErrorCode::unsupported);
  EXPECT_EQ(error_code_from_errno(ENOSYS), ErrorCode::unsupported);
  EXPECT_EQ(error_code_from_errno(EOPNOTSUPP), ErrorCode::unsupported);
  EXPECT_EQ(error_code_from_errno(ENOMEM), ErrorCode::out_of_memory);
  EXPECT_EQ(error_code_from_errno(EMFILE), ErrorCode::out_of_fds);
  EXPECT_EQ(error_code_from_errno(ENFILE), ErrorCode::out_of_fds);
  EXPECT_EQ(error_code_from_errno(EIO), ErrorCode::other);
  EXPECT_EQ(error_code_from_errno(ENOENT), ErrorCode::other);
}

TEST(KernelError, message_names_call_and_fd) {
  const Error e = Error::from_errno("DMA_BUF_IOCTL_EXPORT_SYNC_FILE", 12, EBADF);
  EXPECT_EQ(to_string(e), "DMA_BUF_IOCTL_EXPORT_SYNC_FILE on fd 12: Bad file descriptor");
  EXPECT_STREQ(to_string(ErrorCode::out_of_fds), "out of file descriptors");
}

TEST(KernelUniqueFd, move_release_reset) {
  const auto before = sfw::test::open_fds();
  Pipe p = make_pipe();
  const int raw = p.read.get();
  UniqueFd moved(std::move(p.read));
  EXPECT_FALSE(p.read.valid());
  EXPECT_EQ(moved.get(), raw);
  UniqueFd assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.get(), raw);
  const int released = assigned.release();
  EXPECT_FALSE(assigned);
  EXPECT_TRUE(is_open(released));
  assigned.reset(released);
  assigned.reset();
  EXPECT_FALSE(is_open(raw));
  p.write.reset();
  EXPECT_EQ(sfw::test::open_fds(), before);
}

TEST(KernelUniqueFd, dup_is_close_on_exec) {
  UniqueFd fd = make_memfd();
  auto copy = fd.dup();
  ASSERT_TRUE(copy) << to_string(copy.error());
  EXPECT_NE(copy->get(), fd.get());
  EXPECT_EQ(fcntl(copy->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(KernelUniqueFd, dup_of_closed_fd_is_bad_fd) {
  auto copy = UniqueFd(-1).dup();
  ASSERT_FALSE(copy);
  expect_error(copy.error(), ErrorCode::bad_fd, EBADF, "F_DUPFD_CLOEXEC");
}

TEST(KernelSyncFile, empty_is_signalled_and_gives_minus_one_only_to_vulkan) {
  SyncFile empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_TRUE(*empty.signalled());
  EXPECT_TRUE(*empty.wait(wait_forever));
  EXPECT_EQ(empty.fd_for_vulkan_import(), -1);
  EXPECT_TRUE(SyncFile(UniqueFd(-1)).empty()); // a Vulkan export of -1 means signalled
  auto copy = empty.dup();
  ASSERT_TRUE(copy);
  EXPECT_TRUE(copy->empty());
  auto merged = merge(empty, SyncFile());
  ASSERT_TRUE(merged);
  EXPECT_TRUE(merged->empty());
  auto described = info(empty);
  ASSERT_TRUE(described);
  EXPECT_EQ(described->num_fences, 0u);
  EXPECT_EQ(described->status, 1);
}

TEST(KernelSyncFile, empty_import_is_a_noop_that_still_checks_flags) {
  const auto before = sfw::test::open_fds();
  EXPECT_TRUE(import_sync_file(-1, SyncFile(), Access::write)); // no fd reaches the kernel
  UniqueFd memfd = make_memfd();
  EXPECT_TRUE(import_sync_file(memfd.get(), SyncFile(), Access::read));
  auto bad = import_sync_file(memfd.get(), SyncFile(), static_cast<Access>(0));
  ASSERT_FALSE(bad);
  expect_error(bad.error(), ErrorCode::invalid_argument, EINVAL, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  memfd.reset();
  EXPECT_EQ(sfw::test::open_fds(), before);
}

TEST(KernelSyncFile, vulkan_import_takes_the_fd_only_on_success) {
  const auto before = sfw::test::open_fds();
  int taken = -1;
  {
    SyncFile succeeded = fake_sync_file();
    taken = succeeded.fd_for_vulkan_import();
    ASSERT_GE(taken, 0);
    succeeded.vulkan_import_succeeded(); // Vulkan owns it now: no close here
    EXPECT_TRUE(succeeded.empty());
    SyncFile failed = fake_sync_file();
    (void)failed.fd_for_vulkan_import(); // a failed import leaves it with us: closed at scope end
  }
  EXPECT_TRUE(is_open(taken));
  close(taken); // what the driver would do
  EXPECT_EQ(sfw::test::open_fds(), before);
}

TEST(KernelSyncFile, merge_with_empty_is_a_dup) {
  SyncFile fake = fake_sync_file();
  auto merged = merge(SyncFile(), fake);
  ASSERT_TRUE(merged);
  ASSERT_FALSE(merged->empty());
  EXPECT_NE(merged->fd(), fake.fd());
}

// Every case here must give a clear error value and leave the fd table as it found it.
class KernelBadInput : public ::testing::Test {
protected:
  void SetUp() override { before_ = sfw::test::open_fds(); }
  void TearDown() override { EXPECT_EQ(sfw::test::open_fds(), before_) << "a descriptor leaked"; }

private:
  std::set<int> before_;
};

TEST_F(KernelBadInput, export_from_closed_fd) {
  for (int fd : {-1, closed_fd()}) {
    auto r = export_sync_file(fd, Access::read);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorCode::bad_fd, EBADF, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
    EXPECT_EQ(r.error().fd, fd);
  }
}

TEST_F(KernelBadInput, export_from_non_dmabuf) {
  Pipe p = make_pipe();
  UniqueFd memfd = make_memfd();
  for (int fd : {p.read.get(), p.write.get(), memfd.get()}) {
    auto r = export_sync_file(fd, Access::write);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorCode::unsupported, ENOTTY, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
    EXPECT_FALSE(is_dmabuf(fd));
  }
}

TEST_F(KernelBadInput, invalid_access_flags) {
  UniqueFd memfd = make_memfd();
  SyncFile fake = fake_sync_file();
  for (uint32_t flags : {0u, 4u, 5u, 0xffu}) {
    auto e = export_sync_file(memfd.get(), static_cast<Access>(flags));
    ASSERT_FALSE(e);
    expect_error(e.error(), ErrorCode::invalid_argument, EINVAL, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
    auto i = import_sync_file(memfd.get(), fake, static_cast<Access>(flags));
    ASSERT_FALSE(i);
    expect_error(i.error(), ErrorCode::invalid_argument, EINVAL, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  }
}

TEST_F(KernelBadInput, import_into_closed_or_non_dmabuf) {
  SyncFile fake = fake_sync_file();
  auto closed = import_sync_file(closed_fd(), fake, Access::write);
  ASSERT_FALSE(closed);
  expect_error(closed.error(), ErrorCode::bad_fd, EBADF, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  UniqueFd memfd = make_memfd();
  auto not_dmabuf = import_sync_file(memfd.get(), fake, Access::write);
  ASSERT_FALSE(not_dmabuf);
  expect_error(not_dmabuf.error(), ErrorCode::unsupported, ENOTTY, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  EXPECT_FALSE(fake.empty()); // a failed import does not consume the sync_file
}

TEST_F(KernelBadInput, merge_and_info_of_non_sync_file) {
  SyncFile a = fake_sync_file(), b = fake_sync_file();
  auto merged = merge(a, b);
  ASSERT_FALSE(merged);
  expect_error(merged.error(), ErrorCode::unsupported, ENOTTY, "SYNC_IOC_MERGE");
  auto described = info(a);
  ASSERT_FALSE(described);
  expect_error(described.error(), ErrorCode::unsupported, ENOTTY, "SYNC_IOC_FILE_INFO");
}

TEST_F(KernelBadInput, closed_sync_file) {
  SyncFile closed{UniqueFd(closed_fd())};
  auto waited = closed.wait(1ms);
  ASSERT_FALSE(waited);
  expect_error(waited.error(), ErrorCode::bad_fd, EBADF, "poll(sync_file, POLLIN)");
  auto described = info(closed);
  ASSERT_FALSE(described);
  expect_error(described.error(), ErrorCode::bad_fd, EBADF, "SYNC_IOC_FILE_INFO");
  auto copy = closed.dup();
  ASSERT_FALSE(copy);
  expect_error(copy.error(), ErrorCode::bad_fd, EBADF, "F_DUPFD_CLOEXEC");
  (void)closed.fd_for_vulkan_import();
  closed.vulkan_import_succeeded(); // the number is not ours: never close it
}

TEST_F(KernelBadInput, dmabuf_waits_on_closed_fd) {
  for (int fd : {-1, closed_fd()}) {
    auto w = wait_dmabuf_writable(fd, 0ns);
    ASSERT_FALSE(w);
    expect_error(w.error(), ErrorCode::bad_fd, EBADF, "poll(dma-buf, POLLOUT)");
    auto r = wait_dmabuf_readable(fd, 5ms);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorCode::bad_fd, EBADF, "poll(dma-buf, POLLIN)");
  }
}

TEST(KernelWait, timeout_is_bounded) {
  Pipe p = make_pipe(); // an empty pipe never polls readable: stands in for a busy sync_file
  SyncFile busy(std::move(p.read));
  const auto start = std::chrono::steady_clock::now();
  auto r = busy.wait(20ms);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_GE(took, 20ms);
  EXPECT_LT(took, 2s);
  EXPECT_FALSE(*busy.signalled());
}

TEST(KernelProbe, without_a_dmabuf_stays_unknown) {
  reset_sync_file_support_for_testing();
  const auto before = sfw::test::open_fds();
  EXPECT_EQ(sync_file_support().support, Support::unknown);
  Pipe p = make_pipe();
  UniqueFd memfd = make_memfd();
  for (int fd : {p.read.get(), memfd.get(), -1, closed_fd()}) {
    const ProbeResult r = probe_sync_file_support(fd);
    EXPECT_EQ(r.support, Support::unknown) << r.reason;
    EXPECT_STREQ(r.reason, "no dma-buf to probe on");
  }
  // Even an injected "no such ioctl" cannot be blamed on the kernel without a dma-buf.
  set_ioctl_fault_for_testing(IoctlOp::export_sync_file, ENOTTY);
  EXPECT_EQ(probe_sync_file_support(memfd.get()).support, Support::unknown);
  set_ioctl_fault_for_testing(IoctlOp::export_sync_file, 0);
  EXPECT_EQ(sync_file_support().support, Support::unknown);
  p = {};
  memfd.reset();
  EXPECT_EQ(sfw::test::open_fds(), before);
}

TEST(KernelFaultSeam, next_export_fails_once) {
  UniqueFd memfd = make_memfd();
  set_ioctl_fault_for_testing(IoctlOp::export_sync_file, EMFILE);
  auto injected = export_sync_file(memfd.get(), Access::write);
  ASSERT_FALSE(injected);
  expect_error(injected.error(), ErrorCode::out_of_fds, EMFILE, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE");
  auto real = export_sync_file(memfd.get(), Access::write);
  ASSERT_FALSE(real);
  EXPECT_EQ(real.error().errnum, ENOTTY); // from the kernel again
}

TEST(KernelFaultSeam, next_import_fails_once) {
  UniqueFd memfd = make_memfd();
  set_ioctl_fault_for_testing(IoctlOp::import_sync_file, ENOMEM);
  auto injected = import_sync_file(memfd.get(), SyncFile(), Access::write); // fails even when empty
  ASSERT_FALSE(injected);
  expect_error(injected.error(), ErrorCode::out_of_memory, ENOMEM, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
  EXPECT_TRUE(import_sync_file(memfd.get(), SyncFile(), Access::write));
}
