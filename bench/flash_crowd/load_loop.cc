// The epoll loop: connection life cycle, request dispatch at intended times, answer framing.
#include "load_loop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <stdexcept>
#include <string>

#include "clock.h"

namespace hotdeal::bench {
namespace {

// How often in-flight requests are checked against the request timeout.
constexpr int64_t kTimeoutScanNs = 10'000'000;
constexpr int kEventsPerWaitMax = 256;

}  // namespace

std::string_view FailureName(Failure failure) {
  switch (failure) {
    case Failure::kConnect:
      return "connect_error";
    case Failure::kReset:
      return "connection_reset";
    case Failure::kTimeout:
      return "timeout";
    case Failure::kProtocol:
      return "protocol_error";
  }
  return "unknown";
}

struct LoadLoop::Connection {
  enum class State : uint8_t { kClosed, kConnecting, kIdle, kBusy };

  int index = 0;
  int fd = -1;
  State state = State::kClosed;
  Attempt attempt;
  int64_t sent_ns = 0;
  int64_t timeout_at_ns = 0;
  std::size_t request_size = 0;
  std::size_t request_written = 0;
  std::size_t response_size = 0;
  // Whether EPOLLOUT is in the interest set, so a request that fits the socket buffer in one
  // send() (nearly all of them) costs no epoll_ctl.
  bool write_watched = false;
  std::array<char, kRequestBytesMax> request;
  std::array<char, kResponseBytesMax> response;
};

LoadLoop::LoadLoop(const LoopConfig& config) : config_(config) {
  if (config_.connections < 1 || config_.connections > kConnectionsMax) {
    throw std::invalid_argument("connections must be in [1, " + std::to_string(kConnectionsMax) +
                                "]");
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + strerror(errno));
  connections_.resize(static_cast<std::size_t>(config_.connections));
  idle_open_.reserve(connections_.size());
  closed_.reserve(connections_.size());
  // Reversed so that connection 0 is handed out first, which keeps traces readable.
  for (int i = config_.connections - 1; i >= 0; --i) {
    connections_[static_cast<std::size_t>(i)].index = i;
    closed_.push_back(i);
  }
}

LoadLoop::~LoadLoop() {
  for (Connection& connection : connections_) {
    if (connection.fd >= 0) ::close(connection.fd);
  }
  ::close(epoll_fd_);
}

LoopStats LoadLoop::Run(AttemptSource& source, int64_t deadline_ns) {
  source_ = &source;
  stats_ = {};
  int64_t next_timeout_scan_ns = 0;
  std::array<epoll_event, kEventsPerWaitMax> events;
  while (true) {
    int64_t now_ns = SteadyNowNs();
    if (now_ns >= deadline_ns) {
      stats_.deadline_hit = true;
      break;
    }
    if (now_ns >= next_timeout_scan_ns) {
      ExpireTimeouts(now_ns);
      next_timeout_scan_ns = now_ns + kTimeoutScanNs;
    }
    int64_t due_ns = 0;
    bool queued = source.PeekNextNs(due_ns);
    while (queued && due_ns <= now_ns && (!idle_open_.empty() || !closed_.empty())) {
      std::vector<int>& pool = idle_open_.empty() ? closed_ : idle_open_;
      const int index = pool.back();
      pool.pop_back();
      Dispatch(connections_[static_cast<std::size_t>(index)], source.Pop(), now_ns);
      queued = source.PeekNextNs(due_ns);
    }
    if (!queued && in_flight_ == 0) break;
    // Sleep until an event, the next attempt's intended time (if a connection is free for it),
    // the next timeout scan or the deadline, whichever comes first.
    int64_t wake_ns = std::min(deadline_ns, next_timeout_scan_ns);
    if (queued && (!idle_open_.empty() || !closed_.empty())) wake_ns = std::min(wake_ns, due_ns);
    const int64_t wait_ns = std::max<int64_t>(0, wake_ns - now_ns);
    const timespec wait{static_cast<time_t>(wait_ns / 1'000'000'000), wait_ns % 1'000'000'000};
    const int ready = epoll_pwait2(epoll_fd_, events.data(), kEventsPerWaitMax, &wait, nullptr);
    if (ready < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("epoll_pwait2: ") + strerror(errno));
    }
    now_ns = SteadyNowNs();
    for (int i = 0; i < ready; ++i) {
      OnEvent(connections_[events[static_cast<std::size_t>(i)].data.u32], events[i].events, now_ns);
    }
  }
  // Whatever is still in flight at the deadline is abandoned: its connection is closed so a
  // late answer cannot be mistaken for the next request's.
  for (Connection& connection : connections_) {
    if (connection.state == Connection::State::kBusy ||
        connection.state == Connection::State::kConnecting) {
      ++stats_.abandoned_in_flight;
      --in_flight_;
      Close(connection);
      closed_.push_back(connection.index);
    }
  }
  assert(in_flight_ == 0);
  source_ = nullptr;
  return stats_;
}

void LoadLoop::Dispatch(Connection& connection, const Attempt& attempt, int64_t now_ns) {
  connection.attempt = attempt;
  connection.request_size =
      source_->WriteRequest(attempt, connection.request.data(), connection.request.size());
  assert(connection.request_size > 0 && "request does not fit kRequestBytesMax");
  connection.request_written = 0;
  connection.response_size = 0;
  connection.timeout_at_ns = now_ns + config_.request_timeout_ns;
  ++in_flight_;
  if (stats_.first_send_ns == 0) stats_.first_send_ns = now_ns;
  if (connection.state == Connection::State::kIdle) {
    connection.state = Connection::State::kBusy;
    WriteSome(connection, now_ns);
    return;
  }
  assert(connection.state == Connection::State::kClosed);
  connection.fd =
      ::socket(config_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (connection.fd < 0) {
    Fail(connection, Failure::kConnect, now_ns);
    return;
  }
  // Requests are small and each waits for its answer: Nagle would only add delay.
  const int one = 1;
  setsockopt(connection.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ++stats_.connects;
  connection.state = Connection::State::kConnecting;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
  event.data.u32 = static_cast<uint32_t>(connection.index);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, connection.fd, &event);
  connection.write_watched = true;
  const int result = ::connect(connection.fd, reinterpret_cast<const sockaddr*>(&config_.address),
                               config_.address_size);
  if (result == 0) {
    OnConnected(connection, now_ns);
  } else if (errno != EINPROGRESS) {
    Fail(connection, Failure::kConnect, now_ns);
  }
}

void LoadLoop::OnEvent(Connection& connection, uint32_t events, int64_t now_ns) {
  switch (connection.state) {
    case Connection::State::kConnecting: {
      int error = 0;
      socklen_t size = sizeof error;
      getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &size);
      if (error != 0 || (events & (EPOLLERR | EPOLLHUP)) != 0) {
        Fail(connection, Failure::kConnect, now_ns);
      } else if ((events & EPOLLOUT) != 0) {
        OnConnected(connection, now_ns);
      }
      return;
    }
    case Connection::State::kBusy:
      if ((events & EPOLLOUT) != 0 && connection.request_written < connection.request_size) {
        WriteSome(connection, now_ns);
      }
      if (connection.state == Connection::State::kBusy &&
          (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) {
        ReadSome(connection, now_ns);
      }
      return;
    case Connection::State::kIdle: {
      // Nothing is asked on an idle connection: this is the server closing it (keep-alive
      // timeout) or, if bytes came, a server bug. Either way the connection is done.
      char byte = 0;
      const ssize_t got = ::recv(connection.fd, &byte, 1, MSG_PEEK);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
      if (got == 0) ++stats_.idle_closes;
      std::erase(idle_open_, connection.index);
      Close(connection);
      closed_.push_back(connection.index);
      return;
    }
    case Connection::State::kClosed:
      return;
  }
}

void LoadLoop::OnConnected(Connection& connection, int64_t now_ns) {
  connection.state = Connection::State::kBusy;
  WriteSome(connection, now_ns);
}

void LoadLoop::WriteSome(Connection& connection, int64_t now_ns) {
  while (connection.request_written < connection.request_size) {
    const ssize_t wrote =
        ::send(connection.fd, connection.request.data() + connection.request_written,
               connection.request_size - connection.request_written, MSG_NOSIGNAL);
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      Fail(connection, Failure::kReset, now_ns);
      return;
    }
    connection.request_written += static_cast<std::size_t>(wrote);
  }
  const bool done = connection.request_written == connection.request_size;
  if (done) {
    connection.sent_ns = now_ns;
    ++stats_.sent;
  }
  Watch(connection, !done);
}

void LoadLoop::ReadSome(Connection& connection, int64_t now_ns) {
  const ssize_t got = ::recv(connection.fd, connection.response.data() + connection.response_size,
                             connection.response.size() - connection.response_size, 0);
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    Fail(connection, Failure::kReset, now_ns);
    return;
  }
  if (got == 0) {
    Fail(connection, Failure::kReset, now_ns);
    return;
  }
  connection.response_size += static_cast<std::size_t>(got);
  const ParsedResponse response =
      ParseResponse(std::string_view(connection.response.data(), connection.response_size));
  if (response.parse_status == ParseStatus::kNeedMore) {
    if (connection.response_size == connection.response.size()) {
      FailProtocol(connection, "answer larger than the receive buffer", now_ns);
    }
    return;
  }
  if (response.parse_status == ParseStatus::kError) {
    FailProtocol(connection, response.error, now_ns);
    return;
  }
  // One request is in flight at a time, so bytes after its answer, or an answer before the
  // request was fully written, are framing errors.
  if (response.size_bytes != connection.response_size ||
      connection.request_written != connection.request_size) {
    FailProtocol(connection, "bytes the client never asked for", now_ns);
    return;
  }
  ++stats_.answered;
  stats_.last_answer_ns = now_ns;
  --in_flight_;
  const Attempt attempt = connection.attempt;
  const int64_t sent_ns = connection.sent_ns;
  if (response.close) {
    Close(connection);
    closed_.push_back(connection.index);
  } else {
    MakeIdle(connection);
  }
  // The response view points into this connection's buffer, which stays untouched until the
  // connection is handed a new attempt, and that only happens after this call returns.
  source_->OnResponse(attempt, response, sent_ns, now_ns);
}

void LoadLoop::Fail(Connection& connection, Failure failure, int64_t now_ns) {
  --in_flight_;
  const Attempt attempt = connection.attempt;
  Close(connection);
  closed_.push_back(connection.index);
  source_->OnFailure(attempt, failure, now_ns);
}

void LoadLoop::FailProtocol(Connection& connection, std::string_view why, int64_t now_ns) {
  if (stats_.first_protocol_error.empty()) stats_.first_protocol_error = why;
  Fail(connection, Failure::kProtocol, now_ns);
}

void LoadLoop::Close(Connection& connection) {
  if (connection.fd >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
    ::close(connection.fd);
  }
  connection.fd = -1;
  connection.state = Connection::State::kClosed;
}

void LoadLoop::MakeIdle(Connection& connection) {
  connection.state = Connection::State::kIdle;
  connection.response_size = 0;
  idle_open_.push_back(connection.index);
}

void LoadLoop::ExpireTimeouts(int64_t now_ns) {
  for (Connection& connection : connections_) {
    const bool waiting = connection.state == Connection::State::kBusy ||
                         connection.state == Connection::State::kConnecting;
    if (waiting && now_ns >= connection.timeout_at_ns) Fail(connection, Failure::kTimeout, now_ns);
  }
}

void LoadLoop::Watch(Connection& connection, bool want_write) {
  if (connection.write_watched == want_write) return;
  connection.write_watched = want_write;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u);
  event.data.u32 = static_cast<uint32_t>(connection.index);
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event);
}

}  // namespace hotdeal::bench
