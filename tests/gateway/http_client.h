// Test-side HTTP/1.1 client over a plain blocking socket with a receive timeout, and a fixture
// that runs an engine plus a gateway Server on 127.0.0.1, port 0. Raw writes let tests send
// pipelined, chunked, slow or broken requests byte for byte.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/server.h"

namespace hotdeal::gateway::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// "POST /path HTTP/1.1" with Host, Content-Length and `extra_headers` ("Name: value\r\n"...).
// A TCP socket connected to 127.0.0.1:`port`, or -1.
int ConnectLoopback(std::uint16_t port);

std::string BuildRequest(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view extra_headers = {});

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port,
                      std::chrono::milliseconds receive_timeout = std::chrono::seconds{5});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool Write(std::string_view bytes);
  // The next whole response; nullopt on close, reset, timeout or a malformed response.
  std::optional<HttpResponse> Read();
  std::optional<HttpResponse> Send(std::string_view method, std::string_view target,
                                   std::string_view body = {}, std::string_view extra_headers = {});
  // True if the server closes the connection (EOF or reset) within `timeout`, reading and
  // discarding anything it sends first.
  bool WaitClosed(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::string pending_;  // received bytes not yet parsed
};

// Reads JSON members of a response body (test-only; uses simdjson's DOM).
bool IsJson(const std::string& body);
std::string JsonString(const std::string& body, std::string_view key);
std::int64_t JsonInt(const std::string& body, std::string_view key);

inline constexpr std::string_view kAdminToken = "test-admin-token";
inline constexpr std::string_view kAdminHeader = "Authorization: Bearer test-admin-token\r\n";
inline constexpr std::string_view kServiceToken = "test-service-token";
inline constexpr std::string_view kServiceHeader = "Authorization: Bearer test-service-token\r\n";

class GatewayTest : public ::testing::Test {
 protected:
  // Tests change these before calling StartServer().
  GatewayOptions options_ = DefaultOptions();
  engine::EngineOptions engine_options_ = {};

  static GatewayOptions DefaultOptions();
  void StartServer();
  void TearDown() override;

  std::uint16_t port() const { return server_->port(); }
  // Creates a campaign through the API (admin); body is the JSON request body.
  void CreateCampaign(std::string_view body);

  engine::DiscardSink sink_;
  // Durable-mode tests point these at a fake log before StartServer().
  engine::EventSink* event_sink_ = &sink_;
  engine::DurableLog* log_ = nullptr;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Server> server_;
};

}  // namespace hotdeal::gateway::testing
