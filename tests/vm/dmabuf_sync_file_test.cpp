// The kernel interface against real dma-bufs (udmabuf and vgem) and real fences (vgem), inside
// the VM. The DmaBufSyncFile cases follow IGT's tests/dmabuf_sync_file.c, one gtest per subtest;
// IGT makes its sync_files with sw_sync, these with vgem. Every fence is signalled well inside
// vgem's 10 s, and busy means "a poll with timeout 0 says not ready": nothing here sleeps.
#include "kernel/dmabuf_sync.hpp"
#include "kernel/sync_file.hpp"
#include "udmabuf.hpp"
#include "vgem.hpp"
#include "../unit/open_fds.hpp"

#include <gtest/gtest.h>
#include <linux/dma-buf.h>
#include <sys/ioctl.h>

#include <chrono>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace sfw::kernel;
using namespace sfw::test;
using namespace std::chrono_literals;

namespace {

// The value, or the test ends with the error's text.
template <typename T> T must(Result<T> r) {
  if (!r) throw std::runtime_error(to_string(r.error()));
  return std::move(*r);
}
void must(Result<void> r) {
  if (!r) throw std::runtime_error(to_string(r.error()));
}

bool unsignalled(const SyncFile &s) { return !must(s.signalled()); }

enum class Kind { udmabuf, vgem };
void PrintTo(Kind kind, std::ostream *os) { *os << (kind == Kind::udmabuf ? "udmabuf" : "vgem"); }

class DmaBufSyncFile : public ::testing::TestWithParam<Kind> {
protected:
  void SetUp() override {
    vgem_.emplace();
    if (GetParam() == Kind::vgem) {
      bo_ = vgem_->create_bo();
      dmabuf_ = bo_.dmabuf.get();
    } else {
      udmabuf_ = make_udmabuf();
      dmabuf_ = udmabuf_.get();
    }
  }

  // An unsignalled fence on the buffer under test, as a writer or a reader. vgem attaches it to
  // its own bo; a udmabuf gets a vgem fence through the raw import ioctl, not the code under test.
  uint32_t attach(bool write) {
    if (GetParam() == Kind::vgem) return vgem_->attach_fence(bo_, write);
    PendingSyncFile p = vgem_->unsignalled_sync_file();
    dma_buf_import_sync_file arg{};
    arg.flags = write ? DMA_BUF_SYNC_WRITE : DMA_BUF_SYNC_READ;
    arg.fd = p.sync_file.get();
    if (ioctl(dmabuf_, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &arg) < 0) fail_errno("DMA_BUF_IOCTL_IMPORT_SYNC_FILE");
    return p.fence;
  }
  void signal(uint32_t fence) { vgem_->signal(fence); }

  // An unsignalled fence in a sync_file, from elsewhere (IGT: a sw_sync timeline point).
  uint32_t import_pending(Access access) {
    PendingSyncFile p = vgem_->unsignalled_sync_file();
    must(import_sync_file(dmabuf_, SyncFile(std::move(p.sync_file)), access));
    return p.fence;
  }

  // IGT's dmabuf_busy: would a CPU access of this kind wait (poll, timeout 0)?
  bool busy(Access access) const {
    return !must(access == Access::read ? wait_dmabuf_readable(dmabuf_, 0ns) : wait_dmabuf_writable(dmabuf_, 0ns));
  }
  // IGT's dmabuf_sync_file_busy: is an export for this access unsignalled?
  bool export_busy(Access access) const { return unsignalled(export_now(access)); }
  static bool busy(const SyncFile &s) { return unsignalled(s); }
  SyncFile export_now(Access access) const { return must(export_sync_file(dmabuf_, access)); }

  // Both views agree: readers wait for writers only, writers (and read-write) for everyone.
  void expect_busy(bool readers_wait, bool writers_wait) const {
    EXPECT_EQ(busy(Access::read), readers_wait);
    EXPECT_EQ(busy(Access::write), writers_wait);
    EXPECT_EQ(busy(Access::read_write), writers_wait);
    EXPECT_EQ(export_busy(Access::read), readers_wait);
    EXPECT_EQ(export_busy(Access::write), writers_wait);
    EXPECT_EQ(export_busy(Access::read_write), writers_wait);
  }

  std::optional<Vgem> vgem_;
  VgemBo bo_;
  UniqueFd udmabuf_;
  int dmabuf_ = -1;
};

#define EXPECT_BUSY(readers_wait, writers_wait)                                                                       \
  do {                                                                                                                 \
    SCOPED_TRACE("EXPECT_BUSY(" #readers_wait ", " #writers_wait ")");                                                 \
    expect_busy(readers_wait, writers_wait);                                                                           \
  } while (0)

} // namespace

// IGT export-basic: a reader fence makes only a write export busy; a writer fence makes all busy.
TEST_P(DmaBufSyncFile, export_basic) {
  EXPECT_BUSY(false, false);
  uint32_t fence = attach(false);
  EXPECT_BUSY(false, true);
  signal(fence);
  EXPECT_BUSY(false, false);
  fence = attach(true);
  EXPECT_BUSY(true, true);
  signal(fence);
  EXPECT_BUSY(false, false);
}

// IGT export-before-signal: sync_files exported while a fence is pending signal with it.
TEST_P(DmaBufSyncFile, export_before_signal) {
  EXPECT_FALSE(export_busy(Access::read));
  EXPECT_FALSE(export_busy(Access::write));
  for (bool writer : {false, true}) {
    SCOPED_TRACE(writer ? "writer fence" : "reader fence");
    const uint32_t fence = attach(writer);
    SyncFile read = export_now(Access::read), write = export_now(Access::write);
    EXPECT_EQ(busy(read), writer);
    EXPECT_TRUE(busy(write));
    signal(fence);
    EXPECT_FALSE(busy(read));
    EXPECT_FALSE(busy(write));
  }
}

// IGT export-multiwait: one export waits for every fence present at export time.
TEST_P(DmaBufSyncFile, export_multiwait) {
  const uint32_t fence1 = attach(false), fence2 = attach(false);
  SyncFile write = export_now(Access::write);
  const uint32_t fence3 = attach(false);
  EXPECT_TRUE(busy(write));
  signal(fence1);
  EXPECT_TRUE(busy(write));
  signal(fence2);
  EXPECT_FALSE(busy(write)); // fence3 came later: not in the snapshot
  signal(fence3);
}

// IGT export-wait-after-attach: a sync_file is a snapshot; fences added later are not in it.
TEST_P(DmaBufSyncFile, export_wait_after_attach) {
  SyncFile read = export_now(Access::read), write = export_now(Access::write);
  const uint32_t fence1 = attach(true);
  EXPECT_FALSE(busy(read));
  EXPECT_FALSE(busy(write));
  read = export_now(Access::read); // these wait for fence1
  write = export_now(Access::write);
  EXPECT_TRUE(busy(read));
  EXPECT_TRUE(busy(write));
  signal(fence1);
  const uint32_t fence2 = attach(true);
  EXPECT_FALSE(busy(read)); // fence1 has signalled, fence2 is not theirs
  EXPECT_FALSE(busy(write));
  EXPECT_TRUE(export_busy(Access::read));
  EXPECT_TRUE(export_busy(Access::write));
  signal(fence2);
}

// IGT import-basic: a read import blocks only writers; write and read-write imports block all.
TEST_P(DmaBufSyncFile, import_basic) {
  EXPECT_BUSY(false, false);
  uint32_t fence = import_pending(Access::read);
  EXPECT_BUSY(false, true);
  signal(fence);
  EXPECT_BUSY(false, false);
  for (Access access : {Access::write, Access::read_write}) {
    fence = import_pending(access);
    EXPECT_BUSY(true, true);
    signal(fence);
    EXPECT_BUSY(false, false);
  }
}

namespace {
constexpr int many = 32; // IGT's count
}

// IGT import-multiple-read-only: many read imports block writers until the last one signals,
// and never block readers.
TEST_P(DmaBufSyncFile, import_multiple_read_only) {
  std::vector<uint32_t> fences;
  for (int i = 0; i < many; ++i) fences.push_back(import_pending(Access::read));
  SyncFile read = export_now(Access::read), write = export_now(Access::write);
  for (int i = many - 1; i >= 0; --i) {
    EXPECT_FALSE(busy(Access::read));
    EXPECT_FALSE(busy(read));
    EXPECT_TRUE(busy(Access::write));
    EXPECT_TRUE(busy(write));
    signal(fences[static_cast<size_t>(i)]);
  }
  EXPECT_FALSE(busy(Access::write));
  EXPECT_FALSE(busy(write));
}

// IGT import-multiple-read-write, as its description says: several fences imported with
// read-write access each block readers and writers until the last one signals.
TEST_P(DmaBufSyncFile, import_multiple_read_write) {
  std::vector<uint32_t> fences;
  for (int i = 0; i < 8; ++i) fences.push_back(import_pending(Access::read_write));
  SyncFile read = export_now(Access::read), write = export_now(Access::write);
  for (int i = 7; i >= 0; --i) {
    EXPECT_TRUE(busy(Access::read));
    EXPECT_TRUE(busy(read));
    EXPECT_TRUE(busy(Access::write));
    EXPECT_TRUE(busy(write));
    signal(fences[static_cast<size_t>(i)]);
  }
  EXPECT_BUSY(false, false);
  EXPECT_FALSE(busy(read));
  EXPECT_FALSE(busy(write));
}

// What IGT's import-multiple-read-write code does: many read imports and one write import.
// Readers wait only for the writer; writers wait for everyone.
TEST_P(DmaBufSyncFile, import_many_read_one_write) {
  std::vector<uint32_t> fences;
  for (int i = 0; i < many; ++i) fences.push_back(import_pending(Access::read));
  const uint32_t writer = import_pending(Access::write);
  SyncFile read = export_now(Access::read), write = export_now(Access::write);
  for (int i = many - 1; i >= 0; --i) {
    EXPECT_TRUE(busy(Access::read));
    EXPECT_TRUE(busy(read));
    EXPECT_TRUE(busy(Access::write));
    EXPECT_TRUE(busy(write));
    signal(fences[static_cast<size_t>(i)]);
  }
  EXPECT_BUSY(true, true); // the writer alone
  EXPECT_TRUE(busy(read));
  EXPECT_TRUE(busy(write));
  signal(writer);
  EXPECT_BUSY(false, false);
  EXPECT_FALSE(busy(read));
  EXPECT_FALSE(busy(write));
}

// The layer's present then a reader: the imported write fence keeps a later read export busy,
// and a CPU read (DMA_BUF_IOCTL_SYNC) blocks, until the fence signals.
TEST_P(DmaBufSyncFile, imported_writer_blocks_later_reads) {
  const uint32_t fence = import_pending(Access::write);
  SyncFile read = export_now(Access::read);
  EXPECT_TRUE(busy(read));
  std::promise<int> returned;
  std::future<int> cpu_read = returned.get_future();
  std::jthread reader([&] {
    dma_buf_sync sync{DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ};
    returned.set_value(ioctl(dmabuf_, DMA_BUF_IOCTL_SYNC, &sync) < 0 ? errno : 0);
  });
  // Bounded: vgem signals the fence itself after 10 s, so the thread always returns.
  EXPECT_EQ(cpu_read.wait_for(200ms), std::future_status::timeout) << "CPU read did not wait for the writer";
  EXPECT_TRUE(busy(read));
  signal(fence);
  ASSERT_EQ(cpu_read.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(cpu_read.get(), 0);
  EXPECT_FALSE(busy(read));
  dma_buf_sync end{DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ};
  EXPECT_EQ(ioctl(dmabuf_, DMA_BUF_IOCTL_SYNC, &end), 0);
}

// The layer's acquire: after the compositor's reads (read imports), a write export waits for them.
TEST_P(DmaBufSyncFile, write_export_waits_for_readers) {
  const uint32_t reader = import_pending(Access::read);
  SyncFile acquire = export_now(Access::write);
  EXPECT_TRUE(busy(acquire));
  EXPECT_FALSE(must(wait_dmabuf_writable(dmabuf_, 1ms)));
  EXPECT_TRUE(must(wait_dmabuf_readable(dmabuf_, 1ms)));
  signal(reader);
  EXPECT_TRUE(must(acquire.wait(1s)));
  EXPECT_TRUE(must(wait_dmabuf_writable(dmabuf_, 1s)));
}

// An empty sync_file (already signalled) imports as a no-op and leaves the buffer idle.
TEST_P(DmaBufSyncFile, empty_import_is_a_noop) {
  must(import_sync_file(dmabuf_, SyncFile(), Access::write));
  EXPECT_BUSY(false, false);
}

TEST_P(DmaBufSyncFile, probe_says_supported) {
  EXPECT_TRUE(is_dmabuf(dmabuf_));
  reset_sync_file_support_for_testing();
  const ProbeResult r = probe_sync_file_support(dmabuf_);
  EXPECT_EQ(r.support, Support::supported) << r.reason;
  EXPECT_EQ(sync_file_support().support, Support::supported);
  EXPECT_BUSY(false, false); // probing changed nothing a later access waits for
}

INSTANTIATE_TEST_SUITE_P(Buffers, DmaBufSyncFile, ::testing::Values(Kind::udmabuf, Kind::vgem),
                         [](const auto &info) { return info.param == Kind::udmabuf ? "udmabuf" : "vgem"; });

// The sync_file helpers on real fences.
class SyncFileVm : public ::testing::Test {
protected:
  PendingSyncFile pending() { return vgem_.unsignalled_sync_file(); }
  Vgem vgem_;
};

TEST_F(SyncFileVm, wait_times_out_then_sees_the_signal) {
  PendingSyncFile p = pending();
  SyncFile s(std::move(p.sync_file));
  EXPECT_FALSE(must(s.wait(0ns)));
  EXPECT_FALSE(must(s.wait(5ms)));
  vgem_.signal(p.fence);
  EXPECT_TRUE(must(s.wait(1s)));
  EXPECT_TRUE(must(s.signalled()));
}

TEST_F(SyncFileVm, dup_outlives_the_original) {
  PendingSyncFile p = pending();
  std::optional<SyncFile> original(SyncFile(std::move(p.sync_file)));
  SyncFile copy = must(original->dup());
  EXPECT_NE(copy.fd(), original->fd());
  EXPECT_EQ(fcntl(copy.fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  original.reset();
  EXPECT_FALSE(must(copy.signalled()));
  vgem_.signal(p.fence);
  EXPECT_TRUE(must(copy.signalled()));
}

TEST_F(SyncFileVm, merge_waits_for_both_and_info_describes_it) {
  PendingSyncFile a = pending(), b = pending();
  SyncFile fa(std::move(a.sync_file)), fb(std::move(b.sync_file));
  SyncFile merged = must(merge(fa, fb));
  EXPECT_EQ(fcntl(merged.fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  SyncFileInfo described = must(info(merged));
  EXPECT_EQ(described.num_fences, 2u);
  EXPECT_EQ(described.status, 0);
  EXPECT_STREQ(described.driver, "vgem");
  printf("merged: name \"%s\", %u fences, status %d, first fence: driver \"%s\", timeline \"%s\"\n", described.name,
         described.num_fences, described.status, described.driver, described.timeline);
  vgem_.signal(a.fence);
  EXPECT_FALSE(must(merged.signalled()));
  vgem_.signal(b.fence);
  EXPECT_TRUE(must(merged.signalled()));
  EXPECT_EQ(must(info(merged)).status, 1);
}

TEST_F(SyncFileVm, export_from_an_idle_buffer_is_a_signalled_fence) {
  UniqueFd dmabuf = make_udmabuf();
  SyncFile s = must(export_sync_file(dmabuf.get(), Access::write));
  EXPECT_FALSE(s.empty()); // the kernel's stub fence, not "no fd"
  EXPECT_EQ(fcntl(s.fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_TRUE(must(s.signalled()));
  SyncFileInfo described = must(info(s));
  printf("idle export: name \"%s\", %u fences, status %d, driver \"%s\", timeline \"%s\"\n", described.name,
         described.num_fences, described.status, described.driver, described.timeline);
  EXPECT_EQ(described.status, 1);
}

// The probe's cache, on a real dma-buf, through the test seams.
class ProbeVm : public ::testing::Test {
protected:
  void SetUp() override { reset_sync_file_support_for_testing(); }
  void TearDown() override {
    set_ioctl_fault_for_testing(IoctlOp::export_sync_file, 0);
    set_ioctl_fault_for_testing(IoctlOp::import_sync_file, 0);
    reset_sync_file_support_for_testing();
  }
  UniqueFd dmabuf_ = make_udmabuf();
};

TEST_F(ProbeVm, missing_export_ioctl_is_cached_as_unsupported) {
  set_ioctl_fault_for_testing(IoctlOp::export_sync_file, ENOTTY); // what Linux < 6.0 answers
  const ProbeResult r = probe_sync_file_support(dmabuf_.get());
  EXPECT_EQ(r.support, Support::unsupported);
  EXPECT_NE(std::string(r.reason).find("EXPORT"), std::string::npos) << r.reason;
  EXPECT_EQ(probe_sync_file_support(dmabuf_.get()).support, Support::unsupported); // cached: not probed again
  EXPECT_EQ(sync_file_support().support, Support::unsupported);
}

TEST_F(ProbeVm, missing_import_ioctl_is_cached_as_unsupported) {
  set_ioctl_fault_for_testing(IoctlOp::import_sync_file, ENOSYS);
  const ProbeResult r = probe_sync_file_support(dmabuf_.get());
  EXPECT_EQ(r.support, Support::unsupported);
  EXPECT_NE(std::string(r.reason).find("IMPORT"), std::string::npos) << r.reason;
}

TEST_F(ProbeVm, other_failures_are_not_cached) {
  for (int err : {ENOMEM, EMFILE, EBADF, EINVAL}) {
    set_ioctl_fault_for_testing(IoctlOp::export_sync_file, err);
    EXPECT_EQ(probe_sync_file_support(dmabuf_.get()).support, Support::unknown) << err;
    EXPECT_EQ(sync_file_support().support, Support::unknown);
  }
  EXPECT_EQ(probe_sync_file_support(dmabuf_.get()).support, Support::supported);
}

TEST_F(ProbeVm, runtime_failures_keep_the_answer) {
  ASSERT_EQ(probe_sync_file_support(dmabuf_.get()).support, Support::supported);
  set_ioctl_fault_for_testing(IoctlOp::export_sync_file, ENOTTY);
  EXPECT_FALSE(export_sync_file(dmabuf_.get(), Access::write));
  EXPECT_FALSE(export_sync_file(-1, Access::write));
  UniqueFd memfd(memfd_create("not-a-dmabuf", MFD_CLOEXEC));
  EXPECT_FALSE(export_sync_file(memfd.get(), Access::write)); // ENOTTY from the kernel
  EXPECT_EQ(probe_sync_file_support(memfd.get()).support, Support::supported); // the cached answer
  EXPECT_EQ(sync_file_support().support, Support::supported);
}

TEST_F(ProbeVm, non_dmabuf_is_not_probed) {
  UniqueFd memfd(memfd_create("not-a-dmabuf", MFD_CLOEXEC));
  EXPECT_FALSE(is_dmabuf(memfd.get()));
  EXPECT_EQ(probe_sync_file_support(memfd.get()).support, Support::unknown);
  EXPECT_EQ(sync_file_support().support, Support::unknown);
}

// Bad input against real dma-bufs and sync_files: clear error values, no leaked fd.
class DmaBufBadInput : public ::testing::Test {
protected:
  void SetUp() override { before_ = open_fds(); }
  void TearDown() override { EXPECT_EQ(open_fds(), before_) << "a descriptor leaked"; }
  std::set<int> before_;
};

TEST_F(DmaBufBadInput, importing_a_non_sync_file) {
  UniqueFd dmabuf = make_udmabuf(), other = make_udmabuf();
  UniqueFd memfd(memfd_create("not-a-sync-file", MFD_CLOEXEC));
  for (int fd : {other.get(), memfd.get()}) {
    SyncFile fake{UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0))};
    auto r = import_sync_file(dmabuf.get(), fake, Access::write);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::invalid_argument) << to_string(r.error());
    EXPECT_EQ(r.error().fd, dmabuf.get());
  }
  SyncFile closed{UniqueFd(fcntl(memfd.get(), F_DUPFD_CLOEXEC, 0))};
  int number = closed.fd_for_vulkan_import();
  close(number);
  auto r = import_sync_file(dmabuf.get(), closed, Access::write);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::invalid_argument) << to_string(r.error()); // the kernel cannot tell
  closed.vulkan_import_succeeded(); // already closed above
}

TEST_F(DmaBufBadInput, kernel_rejects_invalid_flags_too) {
  UniqueFd dmabuf = make_udmabuf();
  for (uint32_t flags : {0u, 4u}) {
    dma_buf_export_sync_file arg{flags, -1};
    EXPECT_EQ(ioctl(dmabuf.get(), DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &arg), -1);
    EXPECT_EQ(errno, EINVAL);
    auto r = export_sync_file(dmabuf.get(), static_cast<Access>(flags));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::invalid_argument);
  }
}

TEST_F(DmaBufBadInput, sync_file_calls_on_a_dmabuf) {
  UniqueFd dmabuf = make_udmabuf();
  SyncFile real = must(export_sync_file(dmabuf.get(), Access::read));
  SyncFile wrong{UniqueFd(fcntl(dmabuf.get(), F_DUPFD_CLOEXEC, 0))};
  auto described = info(wrong);
  ASSERT_FALSE(described);
  EXPECT_EQ(described.error().errnum, ENOTTY) << to_string(described.error());
  auto merged = merge(wrong, real);
  ASSERT_FALSE(merged);
  EXPECT_EQ(merged.error().errnum, ENOTTY) << to_string(merged.error());
  auto merged2 = merge(real, wrong); // a wrong second fd: the kernel says ENOENT
  ASSERT_FALSE(merged2);
  EXPECT_STREQ(merged2.error().call, "SYNC_IOC_MERGE");
  printf("merge(sync_file, dma-buf): %s\n", to_string(merged2.error()).c_str());
}
