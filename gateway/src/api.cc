// Api: one function per route. Each validates what the path, headers and body carry, calls the
// engine once, and writes the reply with JsonWriter.
#include "api.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <random>
#include <stdexcept>

#include "demo_page.h"
#include "hotdeal/base/check.h"
#include "hotdeal/engine/names.h"
#include "json_writer.h"
#include "time_text.h"

namespace hotdeal::gateway {
namespace {

namespace http = boost::beast::http;

// Not ready covers more than start-up: a server a newer owner replaced (docs/durability.md,
// "One owner across boxes") answers the same way while it shuts down.
constexpr std::string_view kNotServing = "not serving: recovering, or replaced by a newer owner";

void TimeMember(JsonWriter& json, std::string_view key, engine::TimePoint time) {
  json.Key(key);
  json.String(FormatTime(time).view());
}
// A time that may be absent: null then (ends_at of a campaign that never ends, and so on).
void TimeMember(JsonWriter& json, std::string_view key, std::optional<engine::TimePoint> time) {
  if (time) return TimeMember(json, key, *time);
  json.Key(key);
  json.Null();
}

// A coupon's terms, as the campaign and each claim show them: "discount" only when there is one.
void WriteTerms(JsonWriter& json, const engine::CouponTerms& terms) {
  if (terms.discount != engine::DiscountKind::kNone) {
    json.Key("discount");
    json.BeginObject();
    json.Key(engine::Name(terms.discount));
    json.Int(terms.discount_value);
    json.EndObject();
  }
  json.Key("min_spend");
  json.Int(terms.min_spend);
  if (terms.valid_seconds != 0) {
    json.Key("valid_seconds");
    json.Uint(terms.valid_seconds);
  }
  if (terms.valid_until) TimeMember(json, "valid_until", *terms.valid_until);
}

void WriteCampaign(JsonWriter& json, const engine::CampaignView& view) {
  const engine::CampaignSpec& spec = view.spec;
  json.BeginObject();
  json.Key("id");
  json.String(spec.id.view());
  json.Key("kind");
  json.String(engine::Name(spec.kind));
  json.Key("name");
  json.String(spec.name);
  json.Key("stock");
  json.Uint(spec.stock);
  json.Key("stock_max");
  json.Uint(spec.stock_max);
  json.Key("remaining");
  json.Uint(view.remaining);
  json.Key("per_user_limit");
  json.Uint(spec.per_user_limit);
  if (spec.kind == engine::CampaignKind::kSale) {
    json.Key("price");
    json.Int(spec.price);
    json.Key("hold_seconds");
    json.Uint(spec.hold_seconds);
  } else {
    WriteTerms(json, spec.terms);
  }
  TimeMember(json, "starts_at", spec.starts_at);
  TimeMember(json, "ends_at", spec.ends_at);
  json.Key("status");
  json.String(engine::Name(view.status));
  json.EndObject();
}

// A claim and its coupon's status at `now` (a coupon expires by the clock, with no event).
void WriteClaim(JsonWriter& json, const engine::Claim& claim, engine::TimePoint now) {
  json.BeginObject();
  json.Key("claim_id");
  json.String(engine::Engine::ClaimIdText(claim.id).view());
  json.Key("campaign_id");
  json.String(claim.campaign.view());
  json.Key("user_id");
  json.String(claim.user.view());
  json.Key("coupon_code");
  json.String(claim.coupon_code.view());
  TimeMember(json, "created_at", claim.created_at);
  WriteTerms(json, claim.terms);
  TimeMember(json, "expires_at", claim.expires_at);
  json.Key("status");
  json.String(engine::Name(claim.StatusAt(now)));
  json.EndObject();
}

// WriteClaim at the worker's now, in the shape Answer takes.
auto ClaimWriter(const WorkerContext& worker) {
  return [now = worker.now](JsonWriter& json, const engine::Claim& claim) {
    WriteClaim(json, claim, now);
  };
}

void WriteOrder(JsonWriter& json, const engine::Order& order) {
  json.BeginObject();
  json.Key("order_id");
  json.String(engine::Engine::OrderIdText(order.id).view());
  json.Key("campaign_id");
  json.String(order.campaign.view());
  json.Key("user_id");
  json.String(order.user.view());
  json.Key("quantity");
  json.Uint(order.quantity);
  json.Key("amount");
  json.Int(order.amount);
  json.Key("status");
  json.String(engine::Name(order.status));
  TimeMember(json, "created_at", order.created_at);
  TimeMember(json, "expires_at", order.expires_at);
  json.EndObject();
}

// An error message put together from parts in a fixed buffer (cut at its size).
class MessageText {
 public:
  MessageText& Put(std::string_view part) {
    std::size_t n = std::min(part.size(), bytes_.size() - size_);
    part.copy(bytes_.data() + size_, n);
    size_ += n;
    return *this;
  }
  MessageText& Put(std::int64_t number) {
    std::array<char, 24> digits{};
    auto end = std::to_chars(digits.data(), digits.data() + digits.size(), number).ptr;
    return Put({digits.data(), static_cast<std::size_t>(end - digits.data())});
  }
  std::string_view view() const { return {bytes_.data(), size_}; }

 private:
  std::array<char, 200> bytes_{};
  std::size_t size_ = 0;
};

// 400 naming the field and the rule: "ends_at: must be after starts_at", `unknown field
// "per_user_limt"`, "quantity: must be a whole number from 1 to 1000000". Built in a fixed buffer.
void SetBodyError(Reply& reply, BodyError error) {
  MessageText text;
  if (error.kind == BodyErrorKind::kUnknownField) {
    text.Put("unknown field \"").Put(error.field).Put("\": this route does not take it");
  } else {
    if (!error.field.empty()) text.Put(error.field).Put(": ");
    if (!error.rule.empty()) {
      text.Put(error.rule);
    } else if (error.kind == BodyErrorKind::kOutOfRange && error.min < error.max) {
      text.Put("must be a whole number from ").Put(error.min).Put(" to ").Put(error.max);
    } else {
      text.Put(Describe(error.kind));
    }
  }
  SetError(reply, ApiError::kBadRequest, text.view());
}

// Writes a decision: the value on success, the mapped error otherwise.
template <class T, class WriteValue>
void Answer(const engine::Decision<T>& decision, Reply& reply, WriteValue write_value) {
  reply.ticket = decision.ticket;
  reply.undecided = decision.outcome == engine::Outcome::kPending;
  OutcomeReply mapped = MapOutcome(decision.outcome);
  if (mapped.is_error || !decision.value) {
    SetError(reply, mapped.is_error ? mapped.error : ApiError::kUnavailable, mapped.message);
    return;
  }
  reply.status = mapped.status;
  JsonWriter json(reply.body);
  write_value(json, *decision.value);
}

template <class Id>
std::optional<Id> ParsePathId(std::string_view text, Reply& reply, std::string_view what) {
  auto id = Id::Parse(text);
  if (!id) {
    std::array<char, 96> message{};
    std::size_t size = what.copy(message.data(), 32);
    std::string_view rest = " must match [A-Za-z0-9_-]{1,64}";
    size += rest.copy(message.data() + size, message.size() - size);
    SetError(reply, ApiError::kBadRequest, {message.data(), size});
  }
  return id;
}

// The Idempotency-Key header: absent, or a valid key; anything else is a 400.
bool ReadIdempotencyKey(const RequestData& request, std::optional<engine::IdempotencyKey>& key,
                        Reply& reply) {
  key.reset();
  if (!request.idempotency_key.present()) return true;
  if (!request.idempotency_key.too_long())
    key = engine::IdempotencyKey::Parse(request.idempotency_key.view());
  if (!key) {
    SetError(reply, ApiError::kBadRequest, "Idempotency-Key must match [A-Za-z0-9_-]{1,64}");
    return false;
  }
  return true;
}

// The token of `Authorization: Bearer <token>` (scheme in any case), if that is what was sent.
std::optional<std::string_view> BearerToken(const RequestData& request) {
  if (!request.authorization.present() || request.authorization.too_long()) return std::nullopt;
  std::string_view value = request.authorization.view();
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  return token;
}

// Compares in time that depends only on the length of what the client sent, so a wrong
// token's response time says nothing about how much of it was right.
bool TokenEquals(std::string_view presented, std::string_view expected) {
  if (expected.empty()) return false;
  unsigned diff = presented.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < presented.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i]) ^
            static_cast<unsigned char>(expected[i % expected.size()]);
  }
  return diff == 0;
}

std::int64_t NowSeconds(const WorkerContext& worker) {
  return std::chrono::duration_cast<std::chrono::seconds>(worker.now.time_since_epoch()).count();
}

// The answer to an order or claim the caller may not see: the engine's own not-found, byte for
// byte, so it cannot be told from an unknown id.
void SetNotOwner(WorkerContext& worker, Reply& reply) {
  worker.stats.access_refused[static_cast<std::size_t>(AccessRefusal::kNotOwner)].Add();
  OutcomeReply mapped = MapOutcome(engine::Outcome::kNotFound);
  SetError(reply, mapped.error, mapped.message);
}

TrustedProxies MakeTrustedProxies(const std::vector<std::string>& cidrs) {
  std::string error;
  std::optional<TrustedProxies> proxies = TrustedProxies::Parse(cidrs, error);
  if (!proxies) throw std::invalid_argument("trusted proxies: " + error);
  return *proxies;
}

// Whether browsers may call `route` from a listed origin: the public and user routes, not
// the admin's, the service's or the scrape.
bool CorsRoute(const Route& route) {
  return route.access != Access::kAdmin && route.access != Access::kService &&
         route.id != RouteId::kMetrics;
}

constexpr std::uint32_t kCampaignPageDefault = 100;
constexpr std::uint32_t kCampaignPageMax = 1000;

// A fresh hash key per process, so nobody can choose ids that share a rate-limit bucket.
std::uint64_t RandomSeed() {
  std::random_device device;
  return std::uint64_t{device()} << 32 | device();
}

}  // namespace

Api::Api(engine::Engine& engine, const GatewayOptions& options, const std::atomic<bool>& ready,
         const base::MetricsRegistry& metrics, engine::DurableLog* log)
    : engine_(engine),
      admin_token_(options.admin_token),
      service_token_(options.service_token),
      ready_(ready),
      metrics_(metrics),
      log_(log),
      ack_(options.ack),
      waits_(options.pending_wait_max.count() > 0),
      limits_(options.campaign_limits),
      user_limiter_(options.user_rate_limit, options.rate_limit_slots, RandomSeed()),
      ip_limiter_(options.ip_rate_limit, options.rate_limit_slots, RandomSeed()),
      user_auth_(options),
      proxies_(MakeTrustedProxies(options.trusted_proxies)),
      connections_per_address_max_(options.connections_per_address_max),
      address_connections_(options.connections_per_address_max == 0
                               ? nullptr
                               : std::make_unique<std::atomic<std::uint32_t>[]>(kAddressCounters)),
      cors_origins_(options.cors_allow_origins),
      control_(options.control_queue_max) {}

std::uint64_t Api::ClientKey(const AddressBytes& address) const {
  if (!ip_limiter_.enabled()) return 0;
  return ip_limiter_.Hash({reinterpret_cast<const char*>(address.data()), address.size()});
}

bool Api::TrustsPeer(const boost::asio::ip::address& address) const {
  return !proxies_.empty() && proxies_.Contains(ToBytes(address));
}

Api::ConnectionAdmission Api::AdmitConnection(const AddressBytes& address) {
  if (!address_connections_) return {};
  auto counter = static_cast<std::uint32_t>(
      ip_limiter_.Hash({reinterpret_cast<const char*>(address.data()), address.size()}) &
      (kAddressCounters - 1));
  std::uint32_t open = address_connections_[counter].fetch_add(1, std::memory_order_relaxed);
  return {counter, open < connections_per_address_max_};
}

void Api::ReleaseConnection(std::uint32_t counter) {
  if (counter != kNoCounter) address_connections_[counter].fetch_sub(1, std::memory_order_relaxed);
}

std::uint64_t Api::ClientKeyOf(WorkerContext& worker, const RequestData& request) const {
  if (!request.forwarded_for.present()) return request.client_key;
  if (!request.peer_trusted) {
    // Anyone can write this header; only a proxy we trust appends what it saw.
    worker.stats.edge_refused[static_cast<std::size_t>(EdgeRefusal::kForwardedUntrusted)].Add();
    return request.client_key;
  }
  std::optional<AddressBytes> client = proxies_.ClientOf(request.forwarded_for.view());
  if (!client || request.forwarded_for.too_long()) {
    worker.stats.edge_refused[static_cast<std::size_t>(EdgeRefusal::kForwardedMalformed)].Add();
    return request.client_key;
  }
  return ClientKey(*client);
}

std::string_view Api::AllowedOrigin(WorkerContext& worker, const RequestData& request) const {
  if (cors_origins_.empty() || !request.origin.present()) return {};
  for (const std::string& origin : cors_origins_) {
    if (origin == request.origin.view()) return origin;
  }
  worker.stats.edge_refused[static_cast<std::size_t>(EdgeRefusal::kCorsOrigin)].Add();
  return {};
}

bool Api::Preflight(WorkerContext& worker, const RequestData& request, Reply& reply,
                    RouteId& route_id) const {
  std::string_view origin = AllowedOrigin(worker, request);
  if (origin.empty()) return false;
  std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
  for (std::size_t method = 0; method < kMethodCount; ++method) {
    RouteMatch match = MatchRoute(static_cast<Method>(method), path);
    if (match.route == nullptr || !CorsRoute(*match.route)) continue;
    route_id = match.route->id;
    reply.status = 204;
    reply.cors_origin = origin;
    reply.preflight = true;
    return true;
  }
  return false;
}

bool Api::WithinRate(WorkerContext& worker, RateLimitKind kind, std::uint64_t key_hash,
                     Reply& reply) {
  RateLimiter& limiter = kind == RateLimitKind::kUser ? user_limiter_ : ip_limiter_;
  if (!limiter.enabled()) return true;
  auto index = static_cast<std::size_t>(kind);
  RateDecision decision = limiter.Take(key_hash, worker.steady_now);
  switch (decision.verdict) {
    case RateVerdict::kAllowed:
      return true;
    case RateVerdict::kAllowedEvicted:
      worker.stats.rate_limit_evictions[index].Add();
      return true;
    case RateVerdict::kAllowedTableFull:
      worker.stats.rate_limit_table_full[index].Add();
      return true;
    case RateVerdict::kLimited:
      break;
  }
  worker.stats.rate_limited[index].Add();
  SetRateLimited(reply,
                 kind == RateLimitKind::kUser
                     ? "too many requests for this user_id; retry after Retry-After seconds"
                     : "too many requests from this address; retry after Retry-After seconds",
                 decision.retry_after_seconds);
  return false;
}

bool Api::AdmitUser(WorkerContext& worker, const RequestData& request, const engine::UserId& user,
                    Reply& reply) {
  if (worker.rechecking) return true;
  // The token first: otherwise anyone could spend a victim's rate by naming their user_id.
  TokenRead read;
  if (!ReadUserToken(worker, request, read, reply)) return false;
  if (user_auth_.enabled()) {
    TokenCheck check = user_auth_.Proves(read, user, NowSeconds(worker));
    if (check != TokenCheck::kValid) {
      RefuseToken(worker, check, reply);
      return false;
    }
  }
  return !user_limiter_.enabled() ||
         WithinRate(worker, RateLimitKind::kUser, user_limiter_.Hash(user.view()), reply);
}

bool Api::MatchRequest(const RequestData& request, RouteMatch& match, Reply& reply,
                       RouteId& route_id) const {
  route_id = RouteId::kUnmatched;
  std::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  std::optional<Method> method;
  if (request.method == http::verb::get) method = Method::kGet;
  if (request.method == http::verb::post) method = Method::kPost;
  if (request.method == http::verb::patch) method = Method::kPatch;
  if (request.method == http::verb::delete_) method = Method::kDelete;
  match = MatchRoute(method, path);
  if (match.route == nullptr) {
    if (match.allow.empty()) {
      SetError(reply, ApiError::kNotFound, "no such route");
    } else {
      SetError(reply, ApiError::kMethodNotAllowed, "method not allowed on this path");
      reply.allow = match.allow;
    }
    return false;
  }
  route_id = match.route->id;
  return true;
}

bool Api::HeadAcceptable(WorkerContext& worker, const RequestData& request, const Route& route,
                         Reply& reply) const {
  if (route.access == Access::kAdmin && CallerOf(request) != Caller::kAdmin) {
    SetUnauthorized(reply, "admin routes need Authorization: Bearer <admin token>",
                    request.authorization.present());
    return false;
  }
  if (route.access == Access::kService && CallerOf(request) != Caller::kService) {
    worker.stats.access_refused[static_cast<std::size_t>(AccessRefusal::kServiceOnly)].Add();
    SetUnauthorized(reply,
                    "this route needs Authorization: Bearer <service token>: only the shop's "
                    "own services may say that a payment went through or a coupon was used",
                    request.authorization.present());
    return false;
  }
  if (request.duplicate_header) {
    SetError(reply, ApiError::kBadRequest, "Authorization or Idempotency-Key sent twice");
    return false;
  }
  return true;
}

bool Api::AcceptsBody(WorkerContext& worker, const RequestData& request, Reply& reply,
                      RouteId& route_id) const {
  reply.Reset();
  RouteMatch match;
  return MatchRequest(request, match, reply, route_id) &&
         HeadAcceptable(worker, request, *match.route, reply);
}

Completion Api::Handle(WorkerContext& worker, RequestData& request, Reply& reply,
                       RouteId& route_id) {
  reply.Reset();
  if (request.method == http::verb::options && Preflight(worker, request, reply, route_id)) {
    return Completion::kDone;
  }
  RouteMatch match;
  if (!MatchRequest(request, match, reply, route_id)) return Completion::kDone;
  // Browsers read the answer, errors included, of the routes they may call.
  if (CorsRoute(*match.route)) reply.cors_origin = AllowedOrigin(worker, request);
  // Probes and scrapes must answer even when one address sends too much.
  bool probe =
      route_id == RouteId::kHealth || route_id == RouteId::kReady || route_id == RouteId::kMetrics;
  if (!probe && !WithinRate(worker, RateLimitKind::kIp, ClientKeyOf(worker, request), reply)) {
    return Completion::kDone;
  }
  if (!HeadAcceptable(worker, request, *match.route, reply)) return Completion::kDone;
  Dispatch(worker, *match.route, match, request, reply);
  // Dispatch answers a creation or an archive only when it refuses it (not ready); otherwise it
  // goes on to RunControl, off the event loop.
  const bool control =
      route_id == RouteId::kCreateCampaign || route_id == RouteId::kArchiveCampaign;
  if (control && reply.status == 0) return Completion::kControl;
  return CompletionOf(reply);
}

Completion Api::Recheck(WorkerContext& worker, RequestData& request, Reply& reply) {
  std::string_view cors_origin = reply.cors_origin;  // Handle's, for the same request
  reply.Reset();
  reply.cors_origin = cors_origin;
  RouteMatch match;
  RouteId route_id = RouteId::kUnmatched;
  // It matched the first time; the routes are fixed.
  if (!MatchRequest(request, match, reply, route_id)) return Completion::kDone;
  worker.rechecking = true;
  Dispatch(worker, *match.route, match, request, reply);
  worker.rechecking = false;
  return CompletionOf(reply);
}

Completion Api::CompletionOf(Reply& reply) {
  if (reply.undecided && waits_) return Completion::kWait;
  if (reply.ticket.value == 0) return Completion::kDone;
  // Only a log hands out tickets; DiscardSink (--log none) answers 0.
  HOTDEAL_ASSERT(log_ != nullptr);
  if (ack_ == AckMode::kMemory) {
    log_->Forget(reply.ticket);
    reply.ticket = {};
    return Completion::kDone;
  }
  return Completion::kPending;
}

void Api::Dispatch(WorkerContext& worker, const Route& route, const RouteMatch& match,
                   RequestData& request, Reply& reply) {
  // Operations routes answer while recovering; everything that reads or changes campaigns
  // waits until the engine's state is whole.
  bool operations = route.id == RouteId::kHealth || route.id == RouteId::kReady ||
                    route.id == RouteId::kMetrics || route.id == RouteId::kTime ||
                    route.id == RouteId::kDemo;
  if (!operations && !ready_.load(std::memory_order_acquire)) {
    SetError(reply, ApiError::kUnavailable, kNotServing);
    return;
  }
  switch (route.id) {
    case RouteId::kListCampaigns:
      return ListCampaigns(worker, request, reply);
    case RouteId::kCreateCampaign:
    case RouteId::kArchiveCampaign:
      return;  // Handle answers kControl: the caller calls RunControl
    case RouteId::kGetCampaign:
      return GetCampaign(worker, match.params[0], reply);
    case RouteId::kChangeCampaign:
      return ChangeCampaign(worker, match.params[0], request, reply);
    case RouteId::kCloseCampaign:
      return ControlCampaign(worker, match.params[0], request, reply,
                             &engine::Engine::CloseCampaign);
    case RouteId::kPauseCampaign:
      return ControlCampaign(worker, match.params[0], request, reply,
                             &engine::Engine::PauseCampaign);
    case RouteId::kResumeCampaign:
      return ControlCampaign(worker, match.params[0], request, reply,
                             &engine::Engine::ResumeCampaign);
    case RouteId::kStreamCampaign:
      return StreamCampaign(worker, match.params[0], reply);
    case RouteId::kCreateClaim:
      return CreateClaim(worker, match.params[0], request, reply);
    case RouteId::kGetClaim:
      return GetClaim(worker, match.params[0], match.params[1], request, reply);
    case RouteId::kCreateOrder:
      return CreateOrder(worker, match.params[0], request, reply);
    case RouteId::kGetOrder:
      return GetOrder(worker, match.params[0], request, reply);
    case RouteId::kConfirmOrder:
    case RouteId::kCancelOrder:
      return MoveOrder(worker, route.id, match.params[0], request, reply);
    case RouteId::kGetCoupon:
      return GetCoupon(worker, match.params[0], request, reply);
    case RouteId::kRedeemCoupon:
    case RouteId::kRestoreCoupon:
      return UseCoupon(worker, route.id, match.params[0], request, reply);
    case RouteId::kTime:
      return Time(worker, reply);
    case RouteId::kHealth:
      reply.status = 200;
      reply.body.append(R"({"status":"ok"})");
      return;
    case RouteId::kReady:
      return Ready(reply);
    case RouteId::kMetrics:
      return Metrics(reply);
    case RouteId::kDemo:
      reply.status = 200;
      reply.content_type = ContentType::kHtml;
      reply.body.append(DemoPage());
      return;
    case RouteId::kUnmatched:
      break;
  }
  SetError(reply, ApiError::kNotFound, "no such route");
}

Caller Api::CallerOf(const RequestData& request) const {
  std::optional<std::string_view> token = BearerToken(request);
  if (!token) return Caller::kUser;
  if (TokenEquals(*token, admin_token_)) return Caller::kAdmin;
  if (TokenEquals(*token, service_token_)) return Caller::kService;
  return Caller::kUser;
}

bool Api::ReadUserToken(WorkerContext& worker, const RequestData& request, TokenRead& read,
                        Reply& reply) {
  if (!user_auth_.enabled()) return true;
  read = user_auth_.Read(BearerToken(request), NowSeconds(worker), worker.json);
  if (read.check == TokenCheck::kValid) return true;
  RefuseToken(worker, read.check, reply);
  return false;
}

bool Api::IsOwner(WorkerContext& worker, const TokenRead& read,
                  const std::optional<engine::UserId>& named, const engine::UserId& owner,
                  Reply& reply) {
  if (named && !(*named == owner)) {
    SetNotOwner(worker, reply);
    return false;
  }
  if (!user_auth_.enabled()) return true;  // the caller named the owner (checked above)
  TokenCheck check = user_auth_.Proves(read, owner, NowSeconds(worker));
  if (check == TokenCheck::kValid) return true;
  // An HMAC token that fails for the owner may be anyone's; a JWT names its user. Either way
  // it is not the owner's, and only the owner's own token can be expired for this owner.
  if (check == TokenCheck::kInvalid || check == TokenCheck::kWrongUser) {
    SetNotOwner(worker, reply);
  } else {
    RefuseToken(worker, check, reply);
  }
  return false;
}

void Api::RefuseToken(WorkerContext& worker, TokenCheck check, Reply& reply) {
  worker.stats.user_tokens_refused[static_cast<std::size_t>(check)].Add();
  std::string_view message;
  switch (check) {
    case TokenCheck::kValid:
    case TokenCheck::kMissing:
      message = "this route needs Authorization: Bearer <user token> proving the user_id";
      break;
    case TokenCheck::kMalformed:
      message = "the bearer token is not a user token (<expiry>.<hex HMAC> or a JWT)";
      break;
    case TokenCheck::kInvalid:
      message = "the user token does not prove this user_id (another user's, or a bad signature)";
      break;
    case TokenCheck::kExpired:
      message = "the user token has expired";
      break;
    case TokenCheck::kNotYetValid:
      message = "the user token is not valid yet (nbf)";
      break;
    case TokenCheck::kWrongUser:
      message = "the user token is for another user_id (its sub)";
      break;
    case TokenCheck::kBadClaims:
      message = "the user token is for another audience or issuer";
      break;
  }
  SetUnauthorized(reply, message, check != TokenCheck::kMissing);
}

Completion Api::RunControl(WorkerContext& worker, RequestData& request, Reply& reply,
                           std::function<void(FinishReply)> resume) {
  RouteMatch match;
  RouteId route_id = RouteId::kUnmatched;
  // It matched in Handle; the routes are fixed.
  if (!MatchRequest(request, match, reply, route_id)) return Completion::kDone;
  std::function<void()> job = route_id == RouteId::kArchiveCampaign
                                  ? ArchiveJob(worker, match.params[0], request, reply, resume)
                                  : CreateJob(worker, request, reply, resume);
  if (!job) return Completion::kDone;
  if (!control_.Post(job)) {
    SetError(reply, ApiError::kUnavailable,
             "too many campaign creations and archives in progress; retry after Retry-After "
             "seconds");
    return Completion::kDone;
  }
  return Completion::kControl;
}

std::function<void()> Api::CreateJob(WorkerContext& worker, RequestData& request, Reply& reply,
                                     std::function<void(FinishReply)>& resume) {
  engine::CampaignSpec spec;
  if (BodyError error = DecodeCampaignBody(worker.json, request.PadBody(), worker.now, spec)) {
    SetBodyError(reply, error);
    return {};
  }
  return [this, spec = std::move(spec), now = worker.now, resume = std::move(resume)] {
    engine::Decision<engine::CampaignView> decision = engine_.CreateCampaign(spec, now);
    std::string capacity;
    if (decision.outcome == engine::Outcome::kCapacity) capacity = CapacityMessage(spec, now);
    resume([this, decision = std::move(decision), capacity = std::move(capacity),
            id = spec.id](Reply& done) {
      if (decision.outcome == engine::Outcome::kConflict) {
        // Archived ids stay taken: their rows are in MySQL, and ids handed out name them.
        SetError(done, ApiError::kConflict,
                 MessageText()
                     .Put("campaign \"")
                     .Put(id.view())
                     .Put("\" already exists or was archived")
                     .view());
      } else if (capacity.empty()) {
        Answer(decision, done, WriteCampaign);
      } else {
        SetError(done, ApiError::kCapacity, capacity);
      }
      return CompletionOf(done);
    });
  };
}

std::function<void()> Api::ArchiveJob(WorkerContext& worker, std::string_view id_text,
                                      RequestData& request, Reply& reply,
                                      std::function<void(FinishReply)>& resume) {
  auto id = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!id) return {};
  if (BodyError error = DecodeEmptyBody(worker.json, request.PadBody())) {
    SetBodyError(reply, error);
    return {};
  }
  return [this, id = *id, now = worker.now, resume = std::move(resume)] {
    // Blocks for up to --archive-wait while every worker passes a tick: off the event loops.
    engine::Decision<engine::CampaignView> decision = engine_.ArchiveCampaign(id, now);
    std::string refusal;
    if (decision.outcome == engine::Outcome::kConflict) refusal = ArchiveRefusal(*decision.value);
    resume([this, decision = std::move(decision), refusal = std::move(refusal)](Reply& done) {
      if (!refusal.empty()) {
        SetError(done, ApiError::kConflict, refusal);
      } else if (decision.outcome == engine::Outcome::kPending) {
        SetError(done, ApiError::kUnavailable,
                 "the workers did not all pass a tick in time; nothing changed, retry");
      } else {
        Answer(decision, done, WriteCampaign);
      }
      return CompletionOf(done);
    });
  };
}

std::string Api::ArchiveRefusal(const engine::CampaignView& view) const {
  // The engine says only kConflict; the campaign as it is tells which rule held it.
  if (view.status != engine::CampaignStatus::kEnded) {
    return "the campaign has not ended (it is " + std::string(engine::Name(view.status)) +
           "): close it or let its ends_at pass first";
  }
  const std::optional<engine::CampaignBooks> books = engine_.Books(view.spec.id);
  if (books && (books->held != 0 || books->in_doubt != 0)) {
    return std::to_string(books->held + books->in_doubt) +
           " units are still held by reserved orders or in doubt; archive once they are "
           "confirmed, cancelled or expired";
  }
  if (view.spec.kind == engine::CampaignKind::kCoupon && books &&
      books->claimed != books->redeemed) {
    const std::optional<engine::TimePoint> expiry = view.spec.terms.LastExpiry(view.spec.ends_at);
    const std::string until =
        expiry ? " until " + std::string(FormatTime(*expiry).view())
               : " (its coupons never expire: it stays until every one is redeemed)";
    return std::to_string(books->claimed - books->redeemed) +
           " coupons issued from it may still be redeemed" + until;
  }
  return "the campaign's creation or a top-up is not on the log yet; retry shortly";
}

std::string Api::CapacityMessage(const engine::CampaignSpec& spec, engine::TimePoint now) const {
  // The engine checks in this order and says only kCapacity; the limits tell which one it was.
  // A withdrawn campaign (its creation refused by the log) still holds a table entry and its
  // memory, but is not listed: with one, a full table may read as a spent budget.
  if (spec.stock > limits_.stock_max) {
    return "stock " + std::to_string(spec.stock) + " is over the largest campaign this server " +
           "takes, --stock-max " + std::to_string(limits_.stock_max);
  }
  if (spec.stock_max > limits_.stock_max) {
    return "stock_max " + std::to_string(spec.stock_max) + " is over the largest campaign " +
           "this server takes, --stock-max " + std::to_string(limits_.stock_max);
  }
  std::vector<engine::CampaignView> campaigns = engine_.ListCampaigns(now);
  // An archive holds its place until the log has it (a crash before would bring it back).
  const std::uint64_t archiving = engine_.Stats().campaigns_archiving;
  if (campaigns.size() + archiving >= limits_.campaigns_max) {
    return "the campaign table is full: " + std::to_string(campaigns.size()) + " campaigns" +
           (archiving != 0 ? " and " + std::to_string(archiving) + " archives not yet logged"
                           : "") +
           ", --campaigns-max " + std::to_string(limits_.campaigns_max);
  }
  std::uint64_t taken = 0;
  for (const engine::CampaignView& view : campaigns) {
    if (auto footprint = engine_.Footprint(view.spec.id)) taken += footprint->bytes;
  }
  constexpr std::uint64_t kMiB = 1 << 20;
  return "campaign \"" + std::string(spec.id.view()) +
         "\" does not fit in the memory budget: " + "campaigns take " +
         std::to_string(taken / kMiB) + " MiB of --memory-budget-mb " +
         std::to_string(limits_.memory_budget_bytes / kMiB);
}

void Api::ListCampaigns(WorkerContext& worker, const RequestData& request, Reply& reply) {
  std::uint32_t limit = kCampaignPageDefault;
  QueryValue limit_text = FindQuery(request.target, "limit");
  if (limit_text.present) {
    auto [end, error] = std::from_chars(limit_text.text.data(),
                                        limit_text.text.data() + limit_text.text.size(), limit);
    if (limit_text.repeated || error != std::errc{} ||
        end != limit_text.text.data() + limit_text.text.size() || limit < 1 ||
        limit > kCampaignPageMax) {
      return SetError(reply, ApiError::kBadRequest,
                      "limit query parameter: once, a whole number from 1 to 1000");
    }
  }
  QueryValue after = FindQuery(request.target, "after");
  std::optional<engine::CampaignId> after_id;
  if (after.present) after_id = engine::CampaignId::Parse(after.text);
  if (after.repeated || (after.present && !after_id)) {
    return SetError(reply, ApiError::kBadRequest,
                    "after query parameter: once, a campaign id ([A-Za-z0-9_-]{1,64})");
  }
  std::vector<engine::CampaignView> views = engine_.ListCampaigns(worker.now);
  auto first = views.begin();
  if (after_id) {
    first = std::find_if(views.begin(), views.end(), [&](const engine::CampaignView& view) {
      return view.spec.id == *after_id;
    });
    if (first == views.end()) {
      return SetError(reply, ApiError::kBadRequest,
                      "after query parameter: no campaign has this id");
    }
    ++first;
  }
  auto last = views.end() - first > limit ? first + limit : views.end();
  reply.status = 200;
  JsonWriter json(reply.body);
  json.BeginObject();
  json.Key("campaigns");
  json.BeginArray();
  for (auto it = first; it != last; ++it)
    WriteCampaign(json, *it);
  json.EndArray();
  // The cursor of the next page: the last id of this one, while more follow.
  json.Key("next_after");
  if (last != views.end()) {
    json.String((last - 1)->spec.id.view());
  } else {
    json.Null();
  }
  json.EndObject();
}

void Api::GetCampaign(WorkerContext& worker, std::string_view id_text, Reply& reply) {
  auto id = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!id) return;
  Answer(engine_.GetCampaign(*id, worker.now), reply, WriteCampaign);
}

void Api::StreamCampaign(WorkerContext& worker, std::string_view id_text, Reply& reply) {
  auto id = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!id) return;
  engine::Decision<engine::CampaignView> found = engine_.GetCampaign(*id, worker.now);
  if (!found.value) return Answer(found, reply, WriteCampaign);  // its error, as GET's
  reply.status = 200;
  reply.content_type = ContentType::kEventStream;
}

void Api::ControlCampaign(WorkerContext& worker, std::string_view id_text, RequestData& request,
                          Reply& reply, Control control) {
  auto id = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!id) return;
  if (BodyError error = DecodeEmptyBody(worker.json, request.PadBody())) {
    return SetBodyError(reply, error);
  }
  Answer((engine_.*control)(*id, worker.now), reply, WriteCampaign);
}

void Api::ChangeCampaign(WorkerContext& worker, std::string_view id_text, RequestData& request,
                         Reply& reply) {
  auto id = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!id) return;
  engine::CampaignChange change;
  if (BodyError error = DecodeChangeBody(worker.json, request.PadBody(), change)) {
    return SetBodyError(reply, error);
  }
  engine::Decision<engine::CampaignView> decision = engine_.ChangeCampaign(*id, change, worker.now);
  const std::int64_t add = change.stock_add.value_or(0);
  switch (decision.outcome) {
    case engine::Outcome::kInvalid:
      // The decoder checked each field; what is left conflicts with the campaign as it is.
      if (decision.value && std::int64_t{decision.value->spec.stock} + add < 1) {
        return SetError(reply, ApiError::kConflict,
                        "stock_add: a campaign keeps at least 1 unit of stock");
      }
      return SetError(reply, ApiError::kConflict,
                      "ends_at: must be after the campaign's starts_at");
    case engine::Outcome::kCapacity:
      return SetError(reply, ApiError::kCapacity,
                      MessageText()
                          .Put("stock_add: stock ")
                          .Put(std::int64_t{decision.value->spec.stock} + add)
                          .Put(" is over this campaign's stock_max ")
                          .Put(std::int64_t{decision.value->spec.stock_max})
                          .Put(", set at its creation")
                          .view());
    case engine::Outcome::kConflict:
      return SetError(reply, ApiError::kConflict,
                      MessageText()
                          .Put("stock_add: only ")
                          .Put(std::int64_t{decision.value->remaining})
                          .Put(" units are free to take back; sold and held units stay")
                          .view());
    default:
      return Answer(decision, reply, WriteCampaign);
  }
}

void Api::CreateClaim(WorkerContext& worker, std::string_view id_text, RequestData& request,
                      Reply& reply) {
  auto campaign = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!campaign) return;
  std::optional<engine::IdempotencyKey> key;
  if (!ReadIdempotencyKey(request, key, reply)) return;
  UserBody body;
  if (BodyError error = DecodeUserBody(worker.json, request.PadBody(), body)) {
    return SetBodyError(reply, error);
  }
  if (!AdmitUser(worker, request, body.user, reply)) return;
  engine::Decision<engine::Claim> decision =
      engine_.ClaimCoupon(worker.id, *campaign, body.user, key, worker.now);
  if (decision.outcome == engine::Outcome::kAlreadyClaimed && decision.value) {
    // The one error that carries data: the claim the user already holds.
    OutcomeReply mapped = MapOutcome(decision.outcome);
    SetError(reply, mapped.error, mapped.message,
             engine::Engine::ClaimIdText(decision.value->id).view());
    return;
  }
  Answer(decision, reply, ClaimWriter(worker));
}

void Api::GetClaim(WorkerContext& worker, std::string_view id_text, std::string_view user_text,
                   const RequestData& request, Reply& reply) {
  auto campaign = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!campaign) return;
  auto user = ParsePathId<engine::UserId>(user_text, reply, "user id");
  if (!user) return;
  if (CallerOf(request) == Caller::kUser) {
    // The path names the owner: with tokens off that is all a read needs.
    TokenRead read;
    if (!ReadUserToken(worker, request, read, reply)) return;
    if (!IsOwner(worker, read, std::nullopt, *user, reply)) return;
  }
  Answer(engine_.GetClaim(*campaign, *user), reply, ClaimWriter(worker));
}

void Api::GetCoupon(WorkerContext& worker, std::string_view code, const RequestData& request,
                    Reply& reply) {
  // The engine finds a code's claim by its user (it keeps a fingerprint of each user, not the
  // id), so every caller names the user, as a user's own read does for an order.
  QueryValue query = FindQuery(request.target, "user_id");
  std::optional<engine::UserId> user;
  if (query.present) user = engine::UserId::Parse(query.text);
  if (query.repeated || !user) {
    return SetError(reply, ApiError::kBadRequest,
                    "user_id query parameter: required once, matching [A-Za-z0-9_-]{1,64}: the "
                    "coupon's user");
  }
  if (CallerOf(request) == Caller::kUser) {
    TokenRead read;
    if (!ReadUserToken(worker, request, read, reply)) return;
    if (!IsOwner(worker, read, std::nullopt, *user, reply)) return;
  }
  Answer(engine_.GetCoupon(code, *user), reply, ClaimWriter(worker));
}

void Api::UseCoupon(WorkerContext& worker, RouteId route, std::string_view code,
                    RequestData& request, Reply& reply) {
  CouponUseBody body;
  if (BodyError error = DecodeCouponUseBody(worker.json, request.PadBody(), body)) {
    return SetBodyError(reply, error);
  }
  const bool redeem = route == RouteId::kRedeemCoupon;
  engine::Decision<engine::Claim> used =
      redeem ? engine_.RedeemCoupon(worker.id, code, body.user, body.order, worker.now)
             : engine_.RestoreCoupon(worker.id, code, body.user, body.order, worker.now);
  if (used.outcome == engine::Outcome::kConflict) {
    return SetError(reply, ApiError::kConflict,
                    MessageText()
                        .Put("coupon is not redeemed on order \"")
                        .Put(body.order.view())
                        .Put("\": only the order it was redeemed on restores it")
                        .view());
  }
  Answer(used, reply, ClaimWriter(worker));
}

void Api::CreateOrder(WorkerContext& worker, std::string_view id_text, RequestData& request,
                      Reply& reply) {
  auto campaign = ParsePathId<engine::CampaignId>(id_text, reply, "campaign id");
  if (!campaign) return;
  std::optional<engine::IdempotencyKey> key;
  if (!ReadIdempotencyKey(request, key, reply)) return;
  OrderBody body;
  if (BodyError error = DecodeOrderBody(worker.json, request.PadBody(), body)) {
    return SetBodyError(reply, error);
  }
  if (!AdmitUser(worker, request, body.user, reply)) return;
  Answer(engine_.PlaceOrder(worker.id, *campaign, body.user, body.quantity, key, worker.now), reply,
         WriteOrder);
}

void Api::MoveOrder(WorkerContext& worker, RouteId route, std::string_view order_text,
                    RequestData& request, Reply& reply) {
  MoveBody body;
  if (BodyError error = DecodeMoveBody(worker.json, request.PadBody(), body)) {
    return SetBodyError(reply, error);
  }
  // Confirm is the service's alone (HeadAcceptable); cancel is the owner's or the service's.
  bool service = CallerOf(request) == Caller::kService;
  TokenRead read;
  if (!service) {
    if (!ReadUserToken(worker, request, read, reply)) return;
    if (!user_auth_.enabled() && !body.user) {
      return SetError(reply, ApiError::kBadRequest,
                      "user_id: required to cancel an order, unless the service token is sent");
    }
  }
  // Order ids are the server's: text it could not have made names no order.
  auto order_id = engine::Engine::ParseOrderId(order_text);
  if (!order_id) return SetError(reply, ApiError::kNotFound, "no such order");
  // The engine moves an order for its user, which never changes: read it first.
  engine::Decision<engine::Order> found = engine_.GetOrder(*order_id, worker.now);
  if (!found.value) return Answer(found, reply, WriteOrder);
  const engine::Order& order = *found.value;
  if (service) {
    if (body.user && !(*body.user == order.user)) return SetNotOwner(worker, reply);
  } else {
    if (!IsOwner(worker, read, body.user, order.user, reply)) return;
    if (order.status == engine::OrderStatus::kConfirmed) {
      worker.stats.access_refused[static_cast<std::size_t>(AccessRefusal::kRefundServiceOnly)]
          .Add();
      return SetError(reply, ApiError::kForbidden,
                      "order is confirmed: cancelling it is a refund, which only the shop's "
                      "service may do");
    }
    // The user's rate, after the token proved them (nobody can spend a victim's rate); once,
    // not again for each Recheck.
    if (!worker.rechecking && user_limiter_.enabled() &&
        !WithinRate(worker, RateLimitKind::kUser, user_limiter_.Hash(order.user.view()), reply)) {
      return;
    }
  }
  engine::Decision<engine::Order> moved =
      route == RouteId::kConfirmOrder
          ? engine_.ConfirmOrder(worker.id, *order_id, order.user, worker.now)
          : engine_.CancelOrder(worker.id, *order_id, order.user, worker.now,
                                service ? engine::CancelScope::kReservationOrRefund
                                        : engine::CancelScope::kReservation);
  if (moved.outcome == engine::Outcome::kConflict) {
    // Name the state the order is in: cancelled, expired, confirmed (for a cancel, a refund).
    engine::Decision<engine::Order> now = engine_.GetOrder(*order_id, worker.now);
    if (now.value) {
      return SetError(reply, ApiError::kConflict,
                      MessageText()
                          .Put("order is ")
                          .Put(engine::Name(now.value->status))
                          .Put(route == RouteId::kConfirmOrder ? ": only a reserved order confirms"
                                                               : ": it cannot be cancelled")
                          .view());
    }
  }
  Answer(moved, reply, WriteOrder);
}

void Api::GetOrder(WorkerContext& worker, std::string_view order_text, const RequestData& request,
                   Reply& reply) {
  bool user = CallerOf(request) == Caller::kUser;
  TokenRead read;
  if (user && !ReadUserToken(worker, request, read, reply)) return;
  // Read for every caller: the service and the admin need none, but one they send must be
  // well formed and the order's user, as for a service cancel.
  QueryValue query = FindQuery(request.target, "user_id");
  std::optional<engine::UserId> named;
  if (query.present) named = engine::UserId::Parse(query.text);
  if (query.repeated || (query.present && !named)) {
    return SetError(reply, ApiError::kBadRequest,
                    "user_id query parameter: once, matching [A-Za-z0-9_-]{1,64}");
  }
  if (user && !user_auth_.enabled() && !named) {
    return SetError(reply, ApiError::kBadRequest,
                    "user_id query parameter: required to read an order without the service "
                    "or admin token");
  }
  auto order = engine::Engine::ParseOrderId(order_text);
  if (!order) return SetError(reply, ApiError::kNotFound, "no such order");
  engine::Decision<engine::Order> found = engine_.GetOrder(*order, worker.now);
  if (found.value) {
    if (user && !IsOwner(worker, read, named, found.value->user, reply)) return;
    if (!user && named && !(*named == found.value->user)) return SetNotOwner(worker, reply);
  }
  Answer(found, reply, WriteOrder);
}

void Api::Time(WorkerContext& worker, Reply& reply) {
  reply.status = 200;
  JsonWriter json(reply.body);
  json.BeginObject();
  TimeMember(json, "now", worker.now);
  json.Key("unix_ms");
  json.Int(
      std::chrono::duration_cast<std::chrono::milliseconds>(worker.now.time_since_epoch()).count());
  json.EndObject();
}

void Api::Ready(Reply& reply) {
  if (!ready_.load(std::memory_order_acquire)) {
    return SetError(reply, ApiError::kUnavailable, kNotServing);
  }
  if (log_ != nullptr && !log_->healthy()) {
    return SetError(reply, ApiError::kUnavailable, "not ready: the durable log cannot take writes");
  }
  reply.status = 200;
  reply.body.append(R"({"status":"ready"})");
}

void Api::Metrics(Reply& reply) {
  reply.status = 200;
  reply.content_type = ContentType::kPrometheusText;
  reply.body.append(metrics_.Scrape());
}

}  // namespace hotdeal::gateway
