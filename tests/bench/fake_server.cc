// The fake coupon server: just enough HTTP/1.1 and API.md to exercise flash_crowd end to end.
#include "fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <stdexcept>

#include "clock.h"

namespace hotdeal::bench::testing {
namespace {

// The value of "name":"..." or "name":123 in a compact JSON body; empty if absent.
std::string Field(const std::string& body, const std::string& name) {
  const std::string needle = "\"" + name + "\":";
  std::size_t at = body.find(needle);
  if (at == std::string::npos) return {};
  at += needle.size();
  if (body[at] == '"') {
    const std::size_t end = body.find('"', at + 1);
    return body.substr(at + 1, end - at - 1);
  }
  const std::size_t end = body.find_first_of(",}", at);
  return body.substr(at, end - at);
}

std::string Error(const std::string& code) {
  return "{\"error\":\"" + code + "\",\"message\":\"" + code + "\"}";
}

std::string Header(const std::string& head, const std::string& name) {
  const std::size_t at = head.find("\r\n" + name + ":");
  if (at == std::string::npos) return {};
  std::size_t start = at + name.size() + 3;
  while (start < head.size() && head[start] == ' ')
    ++start;
  return head.substr(start, head.find("\r\n", start) - start);
}

}  // namespace

FakeServer::FakeServer(FakeFaults faults) : faults_(faults) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 512) != 0) {
    throw std::runtime_error("fake server: cannot listen");
  }
  socklen_t size = sizeof address;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

FakeServer::~FakeServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (const int fd : fds_)
      ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& worker : workers_)
    worker.join();
  ::close(listen_fd_);
}

void FakeServer::Accept() {
  while (!stopping_) {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void FakeServer::Serve(int fd) {
  std::string buffer;
  char chunk[4096];
  while (true) {
    const std::size_t head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    const std::string head = buffer.substr(0, head_end);
    std::size_t length = 0;
    const std::string length_text = Header(head, "Content-Length");
    std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (buffer.size() < head_end + 4 + length) {
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    const std::string body = buffer.substr(head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);
    const std::size_t space = head.find(' ');
    const std::string method = head.substr(0, space);
    const std::string target = head.substr(space + 1, head.find(' ', space + 1) - space - 1);
    bool drop = false;
    const auto [status, answer] =
        Handle(method, target, Header(head, "Idempotency-Key"), body, drop);
    if (drop) break;
    const std::string response =
        "HTTP/1.1 " + std::to_string(status) +
        " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(answer.size()) +
        "\r\n\r\n" + answer;
    if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) break;
  }
  ::shutdown(fd, SHUT_RDWR);
}

std::pair<int, std::string> FakeServer::Handle(const std::string& method, const std::string& target,
                                               const std::string& key, const std::string& body,
                                               bool& drop) {
  std::lock_guard lock(mutex_);
  if (method == "GET" && target == "/v1/time") {
    if (!faults_.serve_time) return {404, Error("not_found")};
    return {200, "{\"now\":\"" + FormatRfc3339(WallNowNs()) + "\"}"};
  }
  if (method == "POST" && target == "/v1/campaigns") {
    const std::string id = Field(body, "id");
    if (campaigns_.count(id) != 0) return {409, Error("conflict")};
    Campaign& campaign = campaigns_[id];
    campaign.stock = campaign.remaining = std::stoll(Field(body, "stock"));
    campaign.starts_at = Field(body, "starts_at");
    campaign.starts_ms = *ParseRfc3339Ns(campaign.starts_at) / 1'000'000;
    return {201, "{\"id\":\"" + id + "\"}"};
  }
  const std::string prefix = "/v1/campaigns/";
  if (target.rfind(prefix, 0) != 0) return {404, Error("not_found")};
  const std::string rest = target.substr(prefix.size());
  const std::size_t slash = rest.find('/');
  const auto found = campaigns_.find(rest.substr(0, slash));
  if (found == campaigns_.end()) return {404, Error("not_found")};
  Campaign& campaign = found->second;
  if (slash == std::string::npos) {
    const char* status = campaign.remaining <= 0 ? "sold_out" : "live";
    return {200, "{\"id\":\"" + found->first + "\",\"stock\":" + std::to_string(campaign.stock) +
                     ",\"remaining\":" + std::to_string(std::max(0LL, campaign.remaining)) +
                     ",\"status\":\"" + status + "\",\"starts_at\":\"" + campaign.starts_at +
                     "\"}"};
  }
  const std::string tail = rest.substr(slash);
  if (method == "GET" && tail.rfind("/claims/", 0) == 0) {
    if (faults_.pending_reads < 0 || claim_reads_++ < faults_.pending_reads) {
      return {503, Error("unavailable")};
    }
    const auto claim = campaign.by_user.find(tail.substr(8));
    if (claim == campaign.by_user.end()) return {404, Error("not_found")};
    return {200, "{\"claim_id\":\"" + claim->second.claim_id + "\",\"coupon_code\":\"" +
                     claim->second.coupon_code + "\"}"};
  }
  if (method == "POST" && tail == "/claims") {
    if (!key.empty()) {
      const auto replay = campaign.by_key.find(key);
      if (replay != campaign.by_key.end()) return replay->second;
    }
    auto answer = HandleClaim(campaign, Field(body, "user_id"), body, drop);
    if (!key.empty() && answer.first != 503) campaign.by_key[key] = answer;
    return answer;
  }
  return {404, Error("not_found")};
}

std::pair<int, std::string> FakeServer::HandleClaim(Campaign& campaign, const std::string& user,
                                                    const std::string& /*body*/, bool& drop) {
  ++claims_seen_;
  if (WallNowNs() / 1'000'000 < campaign.starts_ms) return {403, Error("not_started")};
  const auto held = campaign.by_user.find(user);
  if (held != campaign.by_user.end()) {
    return {409, "{\"error\":\"already_claimed\",\"message\":\"x\",\"claim_id\":\"" +
                     held->second.claim_id + "\"}"};
  }
  if (faults_.unavailable_every > 0 && claims_seen_ % faults_.unavailable_every == 0) {
    return {503, Error("unavailable")};
  }
  if (campaign.remaining <= (faults_.oversell ? -1 : 0)) return {409, Error("sold_out")};
  --campaign.remaining;
  const std::string number = std::to_string(++next_claim_);
  Claim& claim = campaign.by_user[user];
  claim = {"c-" + number, "CP-" + number};
  drop = faults_.drop_every > 0 && claims_seen_ % faults_.drop_every == 0;
  return {201, "{\"claim_id\":\"" + claim.claim_id + "\",\"campaign_id\":\"x\",\"user_id\":\"" +
                   user + "\",\"coupon_code\":\"" + claim.coupon_code + "\"}"};
}

}  // namespace hotdeal::bench::testing
