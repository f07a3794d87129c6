// StreamCrowd: blocking connects (loopback), then one epoll loop over every stream.
#include "streams.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "clock.h"

namespace hotdeal::bench {
namespace {

constexpr std::string_view kSoldOut = R"("status":"sold_out")";
constexpr std::size_t kTailBytes = 64;  // longer than any marker looked for

int Connect(const Endpoint& endpoint) {
  const int fd = ::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.address_size) !=
      0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

}  // namespace

StreamCrowd::StreamCrowd(const Endpoint& endpoint, const std::string& campaign_id, int64_t count)
    : endpoint_(endpoint),
      request_("GET /v1/campaigns/" + campaign_id + "/stream HTTP/1.1\r\nHost: " +
               endpoint.host_header + "\r\nAccept: text/event-stream\r\n\r\n"),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      streams_(static_cast<std::size_t>(count)) {
  report_.wanted = count;
}

StreamCrowd::~StreamCrowd() {
  for (Stream& stream : streams_) {
    if (stream.fd >= 0) ::close(stream.fd);
  }
  if (epoll_ >= 0) ::close(epoll_);
}

double StreamCrowd::ScrapeRss() const {
  const int fd = Connect(endpoint_);
  if (fd < 0) return -1;
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: " + endpoint_.host_header +
                      "\r\nConnection: close\r\n\r\n")) {
    char chunk[16384];
    ssize_t got = 0;
    while ((got = ::recv(fd, chunk, sizeof chunk, 0)) > 0)
      answer.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(fd);
  constexpr std::string_view kName = "\nprocess_resident_memory_bytes ";
  const std::size_t at = answer.find(kName);
  if (at == std::string::npos) return -1;
  return std::strtod(answer.c_str() + at + kName.size(), nullptr);
}

void StreamCrowd::Open(int64_t deadline_ns) {
  // Every stream is a descriptor here (and one on the server).
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  const auto needed = static_cast<rlim_t>(report_.wanted) + 1024;
  if (files.rlim_cur < needed) {
    files.rlim_cur = std::min(needed, files.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  report_.rss_before_bytes = ScrapeRss();
  for (std::size_t i = 0; i < streams_.size(); ++i) {
    Stream& stream = streams_[i];
    stream.fd = Connect(endpoint_);
    if (stream.fd < 0 || !SendAll(stream.fd, request_)) {
      report_.error = "stream " + std::to_string(i) + ": " + std::strerror(errno);
      return;
    }
    ::fcntl(stream.fd, F_SETFL, ::fcntl(stream.fd, F_GETFL) | O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, stream.fd, &event);
  }
  std::vector<epoll_event> ready(1024);
  while (report_.opened < report_.wanted && SteadyNowNs() < deadline_ns) {
    const int n = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 100);
    for (int i = 0; i < n; ++i) {
      Stream& stream = streams_[ready[static_cast<std::size_t>(i)].data.u64];
      const bool had_first = stream.first;
      if (!Read(stream, SteadyNowNs())) {
        report_.error = "a stream closed before its first event (connection cap?)";
        return;
      }
      if (stream.first && !had_first) ++report_.opened;
    }
  }
  if (report_.opened < report_.wanted) report_.error = "not every stream had its first event";
  report_.rss_after_bytes = ScrapeRss();
}

bool StreamCrowd::Read(Stream& stream, int64_t now_ns) {
  char chunk[4096];
  while (true) {
    const ssize_t got = ::recv(stream.fd, chunk, sizeof chunk, 0);
    if (got == 0) return false;
    if (got < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    stream.tail.append(chunk, static_cast<std::size_t>(got));
    if (!stream.head) {
      if (!stream.tail.starts_with("HTTP/1.1 200")) return false;
      stream.head = true;
    }
    if (!stream.first && stream.tail.find("\ndata: ") != std::string::npos) stream.first = true;
    if (stream.sold_out_ns < 0 && stream.tail.find(kSoldOut) != std::string::npos) {
      stream.sold_out_ns = now_ns;
      ++report_.heard_sold_out;
      report_.first_sold_out_ns =
          report_.first_sold_out_ns < 0 ? now_ns : std::min(report_.first_sold_out_ns, now_ns);
      report_.last_sold_out_ns = std::max(report_.last_sold_out_ns, now_ns);
    }
    if (stream.tail.size() > kTailBytes) stream.tail.erase(0, stream.tail.size() - kTailBytes);
  }
}

void StreamCrowd::Watch(const std::atomic<bool>& stop, int64_t grace_ns, int64_t deadline_ns) {
  std::vector<epoll_event> ready(1024);
  int64_t stop_ns = -1;
  while (report_.heard_sold_out < report_.opened) {
    const int64_t now_ns = SteadyNowNs();
    if (now_ns >= deadline_ns) return;
    if (stop_ns < 0 && stop.load(std::memory_order_acquire)) stop_ns = now_ns;
    if (stop_ns >= 0 && now_ns - stop_ns >= grace_ns) return;
    const int n = ::epoll_wait(epoll_, ready.data(), static_cast<int>(ready.size()), 20);
    for (int i = 0; i < n; ++i) {
      Stream& stream = streams_[ready[static_cast<std::size_t>(i)].data.u64];
      if (!Read(stream, SteadyNowNs())) {
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, stream.fd, nullptr);
      }
    }
  }
}

}  // namespace hotdeal::bench
