// GET /v1/campaigns/{id}/stream over real sockets: the first event at once, events as claims
// take units, sold_out and ended, keep-alive comments, Last-Event-ID, thousands of streams
// beside a claim race, the caps, the gauge, drain, and the demo page that reads the stream.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Event {
  std::string id;
  std::string data;
  bool comment = false;
};

// A client of one event stream: a raw socket, the head read once, then events one by one.
class StreamClient {
 public:
  StreamClient(std::uint16_t port, std::string_view target, std::string_view extra_headers = {}) {
    fd_ = ConnectLoopback(port);
    if (fd_ < 0) return;
    std::string request = BuildRequest("GET", target, {}, extra_headers);
    ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  }
  ~StreamClient() { Disconnect(); }
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  void Disconnect() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return fd_ >= 0; }

  // The response head (lower-case names), or nullopt if none came within `timeout`.
  std::optional<HttpResponse> Head(milliseconds timeout = milliseconds{2000}) {
    auto deadline = Clock::now() + timeout;
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Receive(deadline)) return std::nullopt;
    }
    HttpResponse head;
    std::string text = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    head.status = std::stoi(text.substr(9, 3));
    for (std::size_t at = text.find("\r\n"); at != std::string::npos;) {
      std::size_t next = text.find("\r\n", at + 2);
      std::string line = text.substr(at + 2, next == std::string::npos ? next : next - at - 2);
      std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      head.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      at = next;
    }
    return head;
  }

  // The rest of a non-stream answer: Content-Length bytes.
  std::string Body(std::size_t size) {
    auto deadline = Clock::now() + milliseconds{2000};
    while (buffer_.size() < size && Receive(deadline)) {
    }
    return buffer_.substr(0, size);
  }

  // The next event or comment, or nullopt if none came within `timeout` (or the server
  // closed). `retry:` fields are skipped.
  std::optional<Event> Next(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      std::size_t end = buffer_.find("\n\n");
      if (end != std::string::npos) {
        std::string block = buffer_.substr(0, end + 1);
        buffer_.erase(0, end + 2);
        Event event;
        bool any = false;
        for (std::size_t at = 0; at < block.size();) {
          std::size_t eol = block.find('\n', at);
          std::string line = block.substr(at, eol - at);
          at = eol + 1;
          if (line.starts_with(":")) {
            event.comment = true;
            any = true;
          } else if (line.starts_with("id: ")) {
            event.id = line.substr(4);
            any = true;
          } else if (line.starts_with("data: ")) {
            event.data = line.substr(6);
            any = true;
          }
        }
        if (any) return event;
        continue;  // a block of only `retry:`
      }
      if (!Receive(deadline)) return std::nullopt;
    }
  }

  // The next data event (comments skipped).
  std::optional<Event> NextData(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::optional<Event> event = Next(left);
      if (!event || !event->comment) return event;
    }
  }

  // True if the server closes the stream within `timeout`.
  bool WaitClosed(milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Receive(deadline)) {
    }
    return closed_;
  }

 private:
  bool Receive(Clock::time_point deadline) {
    if (fd_ < 0 || closed_) return false;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd wait{fd_, POLLIN, 0};
    if (::poll(&wait, 1, static_cast<int>(left)) <= 0) return false;
    char chunk[4096];
    ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string buffer_;
};

std::int64_t Remaining(const Event& event) {
  return JsonInt(event.data, "remaining");
}
std::string Status(const Event& event) {
  return JsonString(event.data, "status");
}

// The value of an unlabelled metric in a scrape, or -1.
double MetricValue(std::uint16_t port, std::string_view name) {
  auto scrape = HttpClient(port).Send("GET", "/metrics");
  if (!scrape) return -1;
  std::string needle = "\n" + std::string(name) + " ";
  std::size_t at = scrape->body.find(needle);
  if (at == std::string::npos) return -1;
  return std::stod(scrape->body.substr(at + needle.size()));
}

bool WaitForMetric(std::uint16_t port, std::string_view name, double value) {
  auto deadline = Clock::now() + milliseconds{3000};
  while (Clock::now() < deadline) {
    if (MetricValue(port, name) == value) return true;
    std::this_thread::sleep_for(milliseconds{20});
  }
  return false;
}

std::string CouponBody(std::string_view id, int stock) {
  return R"({"id":")" + std::string(id) + R"(","kind":"coupon","name":"c","stock":)" +
         std::to_string(stock) + "}";
}

int Claim(std::uint16_t port, std::string_view campaign, std::string_view user) {
  auto answer = HttpClient(port).Send("POST", "/v1/campaigns/" + std::string(campaign) + "/claims",
                                      R"({"user_id":")" + std::string(user) + R"("})");
  return answer ? answer->status : 0;
}

class StreamTest : public GatewayTest {
 protected:
  void SetUp() override { options_.stream_interval = milliseconds{50}; }
};

TEST_F(StreamTest, OpensWithTheCurrentStateAtOnce) {
  options_.stream_interval = milliseconds{2000};  // the first event must not wait for a tick
  StartServer();
  CreateCampaign(R"({"id":"bf","kind":"coupon","name":"c","stock":5,"stock_max":5})");
  auto started = Clock::now();
  StreamClient stream(port(), "/v1/campaigns/bf/stream");
  auto head = stream.Head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "text/event-stream");
  EXPECT_EQ(head->header("cache-control"), "no-store");
  EXPECT_EQ(head->header("content-length"), "");
  auto first = stream.Next(milliseconds{1000});
  ASSERT_TRUE(first);
  EXPECT_LT(Clock::now() - started, milliseconds{500});
  EXPECT_EQ(first->data, R"({"remaining":5,"status":"live"})");
  EXPECT_EQ(first->id, "1");  // nothing taken, live
}

TEST_F(StreamTest, FollowsClaimsToSoldOutThenEnded) {
  StartServer();
  CreateCampaign(CouponBody("bf", 3));
  StreamClient stream(port(), "/v1/campaigns/bf/stream");
  ASSERT_TRUE(stream.Head());
  auto event = stream.NextData(milliseconds{1000});
  ASSERT_TRUE(event);
  EXPECT_EQ(Remaining(*event), 3);
  std::uint64_t last_id = std::stoull(event->id);
  for (int user = 0; user < 3; ++user) {
    ASSERT_EQ(Claim(port(), "bf", "u" + std::to_string(user)), 201);
    event = stream.NextData(milliseconds{1000});
    ASSERT_TRUE(event);
    // Claims a tick apart are heard one by one; the id grows with every unit taken.
    EXPECT_EQ(Remaining(*event), 2 - user) << event->data;
    EXPECT_GT(std::stoull(event->id), last_id);
    last_id = std::stoull(event->id);
  }
  EXPECT_EQ(Status(*event), "sold_out");
  EXPECT_FALSE(stream.NextData(milliseconds{200})) << "nothing changed, nothing sent";

  auto closed =
      HttpClient(port()).Send("POST", "/v1/campaigns/bf/close", "{}", std::string(kAdminHeader));
  ASSERT_TRUE(closed);
  ASSERT_EQ(closed->status, 200) << closed->body;
  event = stream.NextData(milliseconds{1000});
  ASSERT_TRUE(event);
  EXPECT_EQ(Status(*event), "ended");
  EXPECT_GT(std::stoull(event->id), last_id);
}

TEST_F(StreamTest, HearsATopUpAndATakeBack) {
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  ASSERT_EQ(Claim(port(), "bf", "u1"), 201);
  StreamClient stream(port(), "/v1/campaigns/bf/stream");
  ASSERT_TRUE(stream.Head());
  auto event = stream.NextData(milliseconds{1000});
  ASSERT_TRUE(event);
  EXPECT_EQ(Remaining(*event), 4);
  std::set<std::string> ids = {event->id};
  // Each moves stock and remaining together, the units taken stay 1: the stream still hears it.
  for (auto [body, remaining] : {std::pair{R"({"stock_add": 3})", 7},
                                 {R"({"stock_add": -6})", 1},
                                 {R"({"stock_add": 3})", 4}}) {
    auto changed =
        HttpClient(port()).Send("PATCH", "/v1/campaigns/bf", body, std::string(kAdminHeader));
    ASSERT_TRUE(changed);
    ASSERT_EQ(changed->status, 200) << changed->body;
    event = stream.NextData(milliseconds{1000});
    ASSERT_TRUE(event) << body;
    EXPECT_EQ(Remaining(*event), remaining) << body;
    ids.insert(event->id);
  }
  EXPECT_EQ(ids.size(), 3u) << "back to 4 remaining is the first state's id again";
}

TEST_F(StreamTest, CoalescesChangesWithinATick) {
  options_.stream_interval = milliseconds{400};
  StartServer();
  CreateCampaign(CouponBody("bf", 100));
  StreamClient stream(port(), "/v1/campaigns/bf/stream");
  ASSERT_TRUE(stream.Head());
  ASSERT_TRUE(stream.NextData(milliseconds{1000}));
  for (int user = 0; user < 20; ++user)
    ASSERT_EQ(Claim(port(), "bf", "u" + std::to_string(user)), 201);
  auto event = stream.NextData(milliseconds{1000});
  ASSERT_TRUE(event);
  std::int64_t events = 1;
  while (Remaining(*event) != 80) {
    event = stream.NextData(milliseconds{1000});
    ASSERT_TRUE(event);
    ++events;
  }
  EXPECT_LE(events, 2) << "20 claims within a tick or two are one or two events";
}

TEST_F(StreamTest, SendsKeepAliveCommentsWhenQuiet) {
  options_.stream_keepalive = milliseconds{150};
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  StreamClient stream(port(), "/v1/campaigns/bf/stream");
  ASSERT_TRUE(stream.Head());
  ASSERT_TRUE(stream.NextData(milliseconds{1000}));
  for (int i = 0; i < 2; ++i) {
    auto comment = stream.Next(milliseconds{1000});
    ASSERT_TRUE(comment);
    EXPECT_TRUE(comment->comment);
  }
}

TEST_F(StreamTest, LastEventIdSkipsWhatTheClientHeard) {
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  std::string heard;
  {
    StreamClient stream(port(), "/v1/campaigns/bf/stream");
    ASSERT_TRUE(stream.Head());
    auto first = stream.NextData(milliseconds{1000});
    ASSERT_TRUE(first);
    heard = first->id;
  }
  // Reconnecting with the current state's id: nothing until it changes.
  StreamClient again(port(), "/v1/campaigns/bf/stream", "Last-Event-ID: " + heard + "\r\n");
  ASSERT_TRUE(again.Head());
  EXPECT_FALSE(again.NextData(milliseconds{300}));
  ASSERT_EQ(Claim(port(), "bf", "u1"), 201);
  auto changed = again.NextData(milliseconds{1000});
  ASSERT_TRUE(changed);
  EXPECT_EQ(Remaining(*changed), 4);

  // An older id (or one that is not a number) hears the current state at once.
  for (std::string stale : {heard, std::string("garbage")}) {
    StreamClient behind(port(), "/v1/campaigns/bf/stream", "Last-Event-ID: " + stale + "\r\n");
    ASSERT_TRUE(behind.Head());
    auto now = behind.NextData(milliseconds{1000});
    ASSERT_TRUE(now) << stale;
    EXPECT_EQ(Remaining(*now), 4);
    EXPECT_EQ(now->id, changed->id);
  }
}

TEST_F(StreamTest, UnknownOrBadCampaignAnswersTheApiError) {
  StartServer();
  auto unknown = HttpClient(port()).Send("GET", "/v1/campaigns/nope/stream");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(JsonString(unknown->body, "error"), "not_found");
  EXPECT_EQ(unknown->header("content-type"), "application/json");
  auto bad = HttpClient(port()).Send("GET", "/v1/campaigns/bad%20id/stream");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(JsonString(bad->body, "error"), "bad_request");
  auto post = HttpClient(port()).Send("POST", "/v1/campaigns/nope/stream", "{}");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET");
  // The connection that got the 404 is an ordinary one still.
  HttpClient client(port());
  ASSERT_TRUE(client.Send("GET", "/v1/campaigns/nope/stream"));
  auto after = client.Send("GET", "/healthz");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(StreamTest, ClosingTheClientFreesTheStream) {
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  {
    StreamClient one(port(), "/v1/campaigns/bf/stream");
    StreamClient two(port(), "/v1/campaigns/bf/stream");
    ASSERT_TRUE(one.Head() && two.Head());
    ASSERT_TRUE(one.NextData(milliseconds{1000}) && two.NextData(milliseconds{1000}));
    EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_streams_open", 2));
    one.Disconnect();
    EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_streams_open", 1));
  }
  EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_streams_open", 0));
  // Only the scrape's own connection is left.
  EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_connections_open", 1));
  EXPECT_GE(MetricValue(port(), "hotdeal_http_stream_events_total"), 2);
  EXPECT_EQ(MetricValue(port(), "hotdeal_http_streams_dropped_total"), 0);
}

TEST_F(StreamTest, StreamsCountInTheConnectionCaps) {
  options_.connections_max = 3;
  options_.connections_per_address_max = 2;
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  // Earlier connections (the creation's) are released once the server sees them close.
  auto open = [&] {
    std::unique_ptr<StreamClient> stream;
    for (auto deadline = Clock::now() + milliseconds{2000}; Clock::now() < deadline;) {
      stream = std::make_unique<StreamClient>(port(), "/v1/campaigns/bf/stream");
      auto head = stream->Head();
      if (head && head->status == 200) return stream;
      std::this_thread::sleep_for(milliseconds{20});
    }
    return std::unique_ptr<StreamClient>();
  };
  auto one = open();
  auto two = open();
  ASSERT_TRUE(one && two);
  ASSERT_TRUE(one->NextData(milliseconds{1000}) && two->NextData(milliseconds{1000}));
  // Over the per-address cap: only probes, the stream is refused.
  StreamClient third(port(), "/v1/campaigns/bf/stream");
  auto refused = third.Head();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_TRUE(third.WaitClosed(milliseconds{2000}));
  third.Disconnect();
  // Once the server has seen the third go, a probe is the third connection (over the
  // per-address cap, and probes are still answered there).
  std::unique_ptr<StreamClient> probe;
  std::optional<HttpResponse> probed;
  for (auto deadline = Clock::now() + milliseconds{2000}; Clock::now() < deadline;) {
    probe = std::make_unique<StreamClient>(port(), "/healthz");
    probed = probe->Head();
    if (probed && probed->status == 200) break;
    std::this_thread::sleep_for(milliseconds{20});
  }
  ASSERT_TRUE(probed);
  EXPECT_EQ(probed->status, 200);
  // Three open: the next connection is over connections_max.
  StreamClient over(port(), "/healthz");
  auto over_cap = over.Head();
  ASSERT_TRUE(over_cap);
  EXPECT_EQ(over_cap->status, 503);
}

TEST_F(StreamTest, ShutdownEndsTheStreams) {
  StartServer();
  CreateCampaign(CouponBody("bf", 5));
  std::vector<std::unique_ptr<StreamClient>> streams;
  for (int i = 0; i < 10; ++i) {
    streams.push_back(std::make_unique<StreamClient>(port(), "/v1/campaigns/bf/stream"));
    ASSERT_TRUE(streams.back()->Head());
  }
  auto started = Clock::now();
  server_->Shutdown(milliseconds{5000});
  EXPECT_LT(Clock::now() - started, milliseconds{1000}) << "streams must not hold the drain";
  for (auto& stream : streams)
    EXPECT_TRUE(stream->WaitClosed(milliseconds{1000}));
}

// Thousands of open streams beside a claim race: every claim is decided exactly, and every
// stream hears sold_out.
TEST_F(StreamTest, ThousandsOfStreamsDoNotDisturbClaims) {
  constexpr int kStreams = 2000;
  constexpr int kStock = 500;
  constexpr int kUsers = 1000;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  // Both ends of every stream live in this process.
  rlim_t needed = 2 * kStreams + 256;
  if (files.rlim_cur < needed && files.rlim_max >= needed) {
    files.rlim_cur = needed;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < needed) GTEST_SKIP() << "needs " << needed << " descriptors";
  options_.connections_max = kStreams + 64;
  options_.user_rate_limit = {};
  StartServer();
  CreateCampaign(CouponBody("bf", kStock));
  std::vector<std::unique_ptr<StreamClient>> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(std::make_unique<StreamClient>(port(), "/v1/campaigns/bf/stream"));
    ASSERT_TRUE(streams.back()->connected());
  }
  for (auto& stream : streams) {
    auto head = stream->Head(milliseconds{5000});
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200);
  }
  EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_streams_open", kStreams));

  std::atomic<int> granted{0};
  std::atomic<int> sold_out{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client(port());
      for (int user = t; user < kUsers; user += 4) {
        auto answer = client.Send("POST", "/v1/campaigns/bf/claims",
                                  R"({"user_id":"u)" + std::to_string(user) + R"("})");
        int status = answer ? answer->status : 0;
        (status == 201 ? granted : status == 409 ? sold_out : other)++;
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(granted, kStock);
  EXPECT_EQ(sold_out, kUsers - kStock);
  EXPECT_EQ(other, 0);
  for (auto& stream : streams) {
    std::optional<Event> event;
    do {
      event = stream->NextData(milliseconds{5000});
    } while (event && Status(*event) != "sold_out");
    ASSERT_TRUE(event);
    EXPECT_EQ(Remaining(*event), 0);
  }
  EXPECT_EQ(MetricValue(port(), "hotdeal_http_streams_dropped_total"), 0);
  streams.clear();
  EXPECT_TRUE(WaitForMetric(port(), "hotdeal_http_streams_open", 0));
}

TEST_F(StreamTest, ServesTheDemoPage) {
  StartServer();
  auto page = HttpClient(port()).Send("GET", "/demo/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("new EventSource("), std::string::npos);
  EXPECT_NE(page->body.find("/v1/time"), std::string::npos);
}

}  // namespace
}  // namespace hotdeal::gateway::testing
