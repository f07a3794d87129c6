// JWT user tokens over real sockets, minted by PyJWT (tests/gateway/jwt_mint.py, in the venv
// scripts/setup makes): HS256, RS256 and ES256 from a JWKS, RS256 from a PEM file; valid,
// within the leeway, expired, not yet valid, wrong signature, wrong key, wrong audience or
// issuer, no exp, alg none, algorithm confusion, wrong user.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "http_client.h"

namespace hotdeal::gateway::testing {
namespace {

constexpr std::string_view kSale =
    R"({"id": "tv", "kind": "sale", "name": "TV", "stock": 100, "per_user_limit": 100,
        "price": 100, "hold_seconds": 300})";
// As in jwt_mint.py.
constexpr std::string_view kHs256Key = "hs256-test-key-of-at-least-32-bytes!";
constexpr std::string_view kAudience = "shop";
constexpr std::string_view kIssuer = "https://idp.example";

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class JwtTest : public GatewayTest {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(HOTDEAL_PYTHON_VENV)) return;
    // Each test runs in a process of its own (ctest -j2 runs two at once) and mints fresh keys:
    // a shared folder let one process read another's tokens against its own keys.
    dir_ =
        std::filesystem::path(::testing::TempDir()) / ("hotdeal-jwt-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    std::string command = std::string(HOTDEAL_PYTHON_VENV) + " " + HOTDEAL_JWT_MINT + " " +
                          dir_.string() + " " + std::to_string(now);
    minted_ = std::system(command.c_str()) == 0;
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    if (!std::filesystem::exists(HOTDEAL_PYTHON_VENV)) {
      GTEST_SKIP() << "no PyJWT venv at " << HOTDEAL_PYTHON_VENV
                   << ": run scripts/setup to make it";
    }
    ASSERT_TRUE(minted_) << "tests/gateway/jwt_mint.py failed";
    tokens_ = ReadText(dir_ / "tokens.json");
    options_.jwt.hs256_key = std::string(kHs256Key);
    options_.jwt.public_keys_file = (dir_ / "jwks.json").string();
    options_.jwt.audience = std::string(kAudience);
    options_.jwt.issuer = std::string(kIssuer);
  }

  void Start() {
    StartServer();
    CreateCampaign(kSale);
  }
  std::string Token(std::string_view name) { return JsonString(tokens_, name); }
  std::string Bearer(std::string_view name) {
    return "Authorization: Bearer " + Token(name) + "\r\n";
  }
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body,
                    std::string_view headers) {
    auto response = HttpClient(port()).Send(method, target, body, headers);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }
  HttpResponse Order(std::string_view user, std::string_view token) {
    return Send("POST", "/v1/campaigns/tv/orders",
                R"({"quantity": 1, "user_id": ")" + std::string(user) + "\"}", Bearer(token));
  }
  std::int64_t Remaining() {
    return JsonInt(Send("GET", "/v1/campaigns/tv", {}, {}).body, "remaining");
  }

  static inline std::filesystem::path dir_;
  static inline bool minted_ = false;
  std::string tokens_;
};

TEST_F(JwtTest, EachAlgorithmProvesItsSub) {
  Start();
  for (std::string alg : {"hs256", "rs256", "es256"}) {
    HttpResponse order = Order("u-1", alg + "_u1");
    EXPECT_EQ(order.status, 201) << alg << " " << order.body;
    EXPECT_EQ(Order("u-1", alg + "_within_leeway").status, 201) << alg;
    // A valid token for u-1 does not prove u-2.
    HttpResponse other = Order("u-2", alg + "_u1");
    EXPECT_EQ(other.status, 401) << alg << " " << other.body;
    EXPECT_NE(JsonString(other.body, "message").find("another user_id"), std::string::npos);
  }
  EXPECT_EQ(Remaining(), 94);
}

TEST_F(JwtTest, RefusedTokensDecideNothing) {
  Start();
  struct Case {
    std::string token;
    std::string reason;
  };
  std::vector<Case> cases = {{"alg_none", "invalid"},
                             {"alg_confusion", "invalid"},
                             // No kid, and every JWKS key has one.
                             {"rs256_pem_u1", "invalid"}};
  for (std::string alg : {"hs256", "rs256", "es256"}) {
    cases.push_back({alg + "_expired", "expired"});
    cases.push_back({alg + "_not_yet_valid", "not_yet_valid"});
    cases.push_back({alg + "_wrong_key", "invalid"});
    cases.push_back({alg + "_wrong_signature", "invalid"});
    cases.push_back({alg + "_wrong_audience", "bad_claims"});
    cases.push_back({alg + "_wrong_issuer", "bad_claims"});
    cases.push_back({alg + "_no_exp", "bad_claims"});
  }
  for (const Case& test : cases) {
    HttpResponse refused = Order("u-1", test.token);
    EXPECT_EQ(refused.status, 401) << test.token << " " << refused.body;
    EXPECT_EQ(refused.header("www-authenticate"),
              R"(Bearer realm="hotdeal", error="invalid_token")")
        << test.token;
  }
  EXPECT_EQ(Remaining(), 100);
  std::string metrics = Send("GET", "/metrics", {}, {}).body;
  for (std::string_view expected :
       {R"(hotdeal_http_user_tokens_refused_total{reason="invalid"} 9)",
        R"(hotdeal_http_user_tokens_refused_total{reason="expired"} 3)",
        R"(hotdeal_http_user_tokens_refused_total{reason="not_yet_valid"} 3)",
        R"(hotdeal_http_user_tokens_refused_total{reason="bad_claims"} 9)"}) {
    EXPECT_NE(metrics.find(expected), std::string::npos) << expected;
  }
}

TEST_F(JwtTest, SomeoneElsesOrderIsNotFound) {
  Start();
  HttpResponse order = Order("u-1", "es256_u1");
  ASSERT_EQ(order.status, 201) << order.body;
  std::string path = "/v1/orders/" + JsonString(order.body, "order_id");
  EXPECT_EQ(Send("GET", path, {}, Bearer("rs256_u1")).status, 200);
  HttpResponse other = Send("GET", path, {}, Bearer("rs256_u2"));
  EXPECT_EQ(other.status, 404) << other.body;
  EXPECT_EQ(Send("POST", path + "/cancel", {}, Bearer("hs256_u2")).status, 404);
  EXPECT_EQ(Send("GET", path, {}, Bearer("rs256_expired")).status, 401);
  EXPECT_EQ(Send("POST", path + "/cancel", {}, Bearer("hs256_u1")).status, 200);
}

TEST_F(JwtTest, APemKeyVerifiesTokensWithOrWithoutAKid) {
  options_.jwt.hs256_key.clear();
  options_.jwt.public_keys_file = (dir_ / "public.pem").string();
  Start();
  EXPECT_EQ(Order("u-1", "rs256_pem_u1").status, 201);
  EXPECT_EQ(Order("u-1", "rs256_u1").status, 201);
  // No HS256 key configured: an HS256 token names an algorithm nobody may use here.
  EXPECT_EQ(Order("u-1", "hs256_u1").status, 401);
  EXPECT_EQ(Order("u-1", "es256_u1").status, 401);
}

TEST_F(JwtTest, UnusableConfigurationsAreRefusedAtStart) {
  options_.jwt.hs256_key = "short";
  EXPECT_THROW(StartServer(), std::invalid_argument);
  options_.jwt.hs256_key.clear();
  options_.jwt.public_keys_file = (dir_ / "no-such-file").string();
  EXPECT_THROW(StartServer(), std::invalid_argument);
  options_.jwt.public_keys_file = (dir_ / "tokens.json").string();  // JSON, not a JWKS
  EXPECT_THROW(StartServer(), std::invalid_argument);
}

}  // namespace
}  // namespace hotdeal::gateway::testing
