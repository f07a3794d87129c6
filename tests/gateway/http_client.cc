// HttpClient: POSIX socket + Beast's response parser; GatewayTest: server lifecycle.
#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <cerrno>

namespace hotdeal::gateway::testing {

namespace http = boost::beast::http;

std::string BuildRequest(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view extra_headers) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: test\r\n");
  if (method == "POST" || !body.empty()) {
    request.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(body.size()))
        .append("\r\n");
  }
  request.append(extra_headers).append("\r\n").append(body);
  return request;
}

int ConnectLoopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds receive_timeout) {
  fd_ = ConnectLoopback(port);
  if (fd_ < 0) return;
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(receive_timeout.count() / 1000);
  timeout.tv_usec = static_cast<suseconds_t>((receive_timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpClient::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::optional<HttpResponse> HttpClient::Read() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  parser.eager(true);
  while (true) {
    if (!pending_.empty()) {
      boost::beast::error_code error;
      std::size_t used = parser.put(boost::asio::buffer(pending_), error);
      pending_.erase(0, used);
      if (error && error != http::error::need_more) return std::nullopt;
      if (parser.is_done()) break;
      if (!error && used > 0) continue;
    }
    char chunk[4096];
    ssize_t received = ::recv(fd_, chunk, sizeof chunk, 0);
    if (received <= 0) return std::nullopt;
    pending_.append(chunk, static_cast<std::size_t>(received));
  }
  HttpResponse response;
  auto message = parser.release();
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[name] = std::string(field.value());
  }
  response.body = std::move(message.body());
  return response;
}

std::optional<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                             std::string_view body,
                                             std::string_view extra_headers) {
  if (!Write(BuildRequest(method, target, body, extra_headers))) return std::nullopt;
  return Read();
}

bool HttpClient::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    char chunk[4096];
    ssize_t received = ::recv(fd_, chunk, sizeof chunk, 0);
    if (received == 0) return true;
    if (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return true;
  }
  return false;
}

bool IsJson(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  return parser.parse(body).get(element) == simdjson::SUCCESS;
}

std::string JsonString(const std::string& body, std::string_view key) {
  simdjson::dom::parser parser;
  std::string_view value;
  if (parser.parse(body)[key].get(value) != simdjson::SUCCESS)
    return "<missing " + std::string(key) + ">";
  return std::string(value);
}

std::int64_t JsonInt(const std::string& body, std::string_view key) {
  simdjson::dom::parser parser;
  std::int64_t value = 0;
  if (parser.parse(body)[key].get(value) != simdjson::SUCCESS) return -1;
  return value;
}

GatewayOptions GatewayTest::DefaultOptions() {
  GatewayOptions options;
  options.threads = 2;
  options.admin_token = std::string(kAdminToken);
  options.service_token = std::string(kServiceToken);
  options.tick_interval = std::chrono::milliseconds{10};
  return options;
}

void GatewayTest::StartServer() {
  engine_options_.workers = options_.threads;
  engine_ = std::make_unique<engine::Engine>(engine_options_, *event_sink_);
  server_ = std::make_unique<Server>(options_, *engine_, log_);
  server_->Start();
  server_->SetReady(true);
}

void GatewayTest::TearDown() {
  if (server_) server_->Shutdown(std::chrono::milliseconds{200});
  server_.reset();
  engine_.reset();
}

void GatewayTest::CreateCampaign(std::string_view body) {
  HttpClient client(port());
  auto response = client.Send("POST", "/v1/campaigns", body, kAdminHeader);
  ASSERT_TRUE(response);
  ASSERT_EQ(response->status, 201) << response->body;
}

}  // namespace hotdeal::gateway::testing
