// Outcomes of everything the Wayland module does on the app's connection. No exceptions: this code
// runs inside someone else's Wayland client.
#pragma once

namespace sfw::wl {

enum class Status {
  ok,
  timeout, // the compositor did not answer within the bound; the connection may still be fine
  lost,    // the connection is dead (protocol error, hang-up, read failure): never retry on it
  failed,  // the compositor answered no (e.g. dma-buf import `failed`), or a local resource ran out
  refused, // a local check refused to send something that would be a fatal protocol error
  no_fds,  // the process is at its descriptor limit: sending an fd now would kill the connection
};

constexpr const char *to_string(Status status) noexcept {
  switch (status) {
  case Status::ok: return "ok";
  case Status::timeout: return "timeout";
  case Status::lost: return "lost";
  case Status::failed: return "failed";
  case Status::refused: return "refused";
  case Status::no_fds: return "no_fds";
  }
  return "unknown";
}

} // namespace sfw::wl
