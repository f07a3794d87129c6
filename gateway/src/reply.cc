// Status mapping and response heads. MapOutcome is the only place an engine Outcome becomes an
// HTTP status; its switch has no default so a new Outcome fails to compile until mapped.
#include "reply.h"

#include <charconv>

#include "json_writer.h"

namespace hotdeal::gateway {
namespace {

constexpr std::string_view kBearerChallenge = R"(Bearer realm="hotdeal")";
constexpr std::string_view kInvalidTokenChallenge =
    R"(Bearer realm="hotdeal", error="invalid_token")";

}  // namespace

unsigned StatusOf(ApiError error) {
  switch (error) {
    case ApiError::kBadRequest:
      return 400;
    case ApiError::kUnauthorized:
      return 401;
    case ApiError::kForbidden:
    case ApiError::kNotStarted:
    case ApiError::kEnded:
    case ApiError::kPaused:
      return 403;
    case ApiError::kNotFound:
      return 404;
    case ApiError::kMethodNotAllowed:
      return 405;
    case ApiError::kSoldOut:
    case ApiError::kAlreadyClaimed:
    case ApiError::kAlreadyRedeemed:
    case ApiError::kExpired:
    case ApiError::kLimitExceeded:
    case ApiError::kConflict:
    case ApiError::kCapacity:
      return 409;
    case ApiError::kPayloadTooLarge:
      return 413;
    case ApiError::kRateLimited:
      return 429;
    case ApiError::kUnavailable:
      return 503;
  }
  return 500;
}

std::string_view CodeOf(ApiError error) {
  switch (error) {
    case ApiError::kBadRequest:
      return "bad_request";
    case ApiError::kUnauthorized:
      return "unauthorized";
    case ApiError::kForbidden:
      return "forbidden";
    case ApiError::kNotStarted:
      return "not_started";
    case ApiError::kEnded:
      return "ended";
    case ApiError::kPaused:
      return "paused";
    case ApiError::kNotFound:
      return "not_found";
    case ApiError::kMethodNotAllowed:
      return "method_not_allowed";
    case ApiError::kSoldOut:
      return "sold_out";
    case ApiError::kAlreadyClaimed:
      return "already_claimed";
    case ApiError::kAlreadyRedeemed:
      return "already_redeemed";
    case ApiError::kExpired:
      return "expired";
    case ApiError::kLimitExceeded:
      return "limit_exceeded";
    case ApiError::kConflict:
      return "conflict";
    case ApiError::kCapacity:
      return "capacity";
    case ApiError::kPayloadTooLarge:
      return "payload_too_large";
    case ApiError::kRateLimited:
      return "rate_limited";
    case ApiError::kUnavailable:
      return "unavailable";
  }
  return "internal";
}

OutcomeReply MapOutcome(engine::Outcome outcome) {
  auto ok = [](unsigned status, std::string_view name) {
    return OutcomeReply{status, false, ApiError::kBadRequest, {}, name};
  };
  auto error = [](ApiError api_error, std::string_view message, std::string_view name) {
    return OutcomeReply{StatusOf(api_error), true, api_error, message, name};
  };
  switch (outcome) {
    case engine::Outcome::kOk:
      return ok(200, "ok");
    case engine::Outcome::kCreated:
      return ok(201, "created");
    case engine::Outcome::kReplayed:
      // A replay answers what the first request was answered: it created something.
      return ok(201, "replayed");
    case engine::Outcome::kInvalid:
      return error(ApiError::kBadRequest, "the engine refused an argument", "invalid");
    case engine::Outcome::kNotFound:
      return error(ApiError::kNotFound, "no such campaign, claim or order", "not_found");
    case engine::Outcome::kNotStarted:
      return error(ApiError::kNotStarted, "the campaign has not started", "not_started");
    case engine::Outcome::kEnded:
      return error(ApiError::kEnded, "the campaign has ended", "ended");
    case engine::Outcome::kPaused:
      return error(ApiError::kPaused, "the campaign is paused; try again when it resumes",
                   "paused");
    case engine::Outcome::kSoldOut:
      return error(ApiError::kSoldOut, "no stock left", "sold_out");
    case engine::Outcome::kAlreadyClaimed:
      return error(ApiError::kAlreadyClaimed, "this user already holds a coupon of this campaign",
                   "already_claimed");
    case engine::Outcome::kAlreadyRedeemed:
      return error(ApiError::kAlreadyRedeemed, "the coupon is redeemed on another order",
                   "already_redeemed");
    case engine::Outcome::kExpired:
      return error(ApiError::kExpired, "the coupon is past its expires_at", "expired");
    case engine::Outcome::kLimitExceeded:
      return error(ApiError::kLimitExceeded, "the order would exceed per_user_limit",
                   "limit_exceeded");
    case engine::Outcome::kConflict:
      return error(ApiError::kConflict, "conflicts with the current state", "conflict");
    case engine::Outcome::kOverCapacity:
      return error(ApiError::kUnavailable, "a fixed-size table is full; retry later",
                   "over_capacity");
    case engine::Outcome::kCapacity:
      // For good, unlike kOverCapacity: retrying the same creation can never succeed. The
      // gateway replaces the message with one naming the limit (Api::CapacityMessage).
      return error(ApiError::kCapacity,
                   "the campaign does not fit: stock, campaign table or memory budget", "capacity");
    case engine::Outcome::kLogUnavailable:
      return error(ApiError::kUnavailable, "the durable log cannot take writes; retry later",
                   "log_unavailable");
    case engine::Outcome::kInDoubt:
      return error(ApiError::kUnavailable,
                   "the durable log has not settled this decision yet; retry with the same "
                   "Idempotency-Key",
                   "in_doubt");
    case engine::Outcome::kPending:
      // Decided, but the durable log has not acknowledged it yet: showing it could reveal a
      // decision a crash would lose. Or a confirm or cancel reached a campaign in an archive
      // attempt, which ends within EngineOptions::archive_wait. The gateway decides again (--ack
      // durable, Completion::kWait); this is the answer once that wait ran past its bound.
      return error(ApiError::kUnavailable,
                   "the decision this request reached is not settled yet (the durable log has "
                   "not answered, or its campaign is being archived); retry shortly with the "
                   "same Idempotency-Key",
                   "pending");
  }
  return error(ApiError::kUnavailable, "unknown outcome", "unknown");
}

void SetError(Reply& reply, ApiError error, std::string_view message, std::string_view claim_id) {
  reply.status = StatusOf(error);
  reply.content_type = ContentType::kJson;
  reply.retry_after_seconds = error == ApiError::kUnavailable ? kRetryAfterSeconds : 0;
  // Every 401 challenges (RFC 9110 11.6.1); SetUnauthorized picks the precise one.
  reply.www_authenticate = error == ApiError::kUnauthorized ? kBearerChallenge : std::string_view{};
  reply.body.clear();
  JsonWriter json(reply.body);
  json.BeginObject();
  json.Key("error");
  json.String(CodeOf(error));
  json.Key("message");
  json.String(message);
  if (!claim_id.empty()) {
    json.Key("claim_id");
    json.String(claim_id);
  }
  json.EndObject();
}

void SetUnauthorized(Reply& reply, std::string_view message, bool token_sent) {
  SetError(reply, ApiError::kUnauthorized, message);
  reply.www_authenticate = token_sent ? kInvalidTokenChallenge : kBearerChallenge;
}

void SetRateLimited(Reply& reply, std::string_view message, std::uint32_t retry_after_seconds) {
  SetError(reply, ApiError::kRateLimited, message);
  reply.retry_after_seconds = retry_after_seconds;
}

namespace {

void AppendNumber(std::string& text, std::uint64_t number) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, number);
  text.append(digits, result.ptr);
}

std::string_view StatusLine(unsigned status) {
  switch (status) {
    case 200:
      return "HTTP/1.1 200 OK\r\n";
    case 201:
      return "HTTP/1.1 201 Created\r\n";
    case 204:
      return "HTTP/1.1 204 No Content\r\n";
    case 400:
      return "HTTP/1.1 400 Bad Request\r\n";
    case 401:
      return "HTTP/1.1 401 Unauthorized\r\n";
    case 403:
      return "HTTP/1.1 403 Forbidden\r\n";
    case 404:
      return "HTTP/1.1 404 Not Found\r\n";
    case 405:
      return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 409:
      return "HTTP/1.1 409 Conflict\r\n";
    case 413:
      return "HTTP/1.1 413 Payload Too Large\r\n";
    case 429:
      return "HTTP/1.1 429 Too Many Requests\r\n";
    case 503:
      return "HTTP/1.1 503 Service Unavailable\r\n";
    default:
      return "HTTP/1.1 500 Internal Server Error\r\n";
  }
}

}  // namespace

void WriteHead(const Reply& reply, Persistence persistence, std::string& head) {
  head.clear();
  head.append(StatusLine(reply.status));
  // A 204 has no content, and says so by carrying no Content-Length (RFC 9110 8.6).
  if (reply.status != 204) {
    switch (reply.content_type) {
      case ContentType::kJson:
        head.append("Content-Type: application/json\r\n");
        break;
      case ContentType::kPrometheusText:
        head.append("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
        break;
      case ContentType::kEventStream:
        // Proxies and browsers must pass each event on as it comes, not keep or buffer them.
        head.append("Content-Type: text/event-stream\r\nCache-Control: no-store\r\n");
        break;
      case ContentType::kHtml:
        head.append("Content-Type: text/html; charset=utf-8\r\n");
        break;
    }
    if (reply.content_type != ContentType::kEventStream) {
      head.append("Content-Length: ");
      AppendNumber(head, reply.body.size());
      head.append("\r\n");
    }
  }
  if (!reply.cors_origin.empty()) {
    head.append("Access-Control-Allow-Origin: ");
    head.append(reply.cors_origin);
    head.append("\r\nVary: Origin\r\n");
    if (reply.preflight) {
      head.append(
          "Access-Control-Allow-Methods: GET, POST\r\n"
          "Access-Control-Allow-Headers: Authorization, Content-Type, Idempotency-Key, "
          "Last-Event-ID\r\n"
          "Access-Control-Max-Age: 600\r\n");
    } else {
      head.append("Access-Control-Expose-Headers: Retry-After, WWW-Authenticate\r\n");
    }
  }
  if (reply.retry_after_seconds != 0) {
    head.append("Retry-After: ");
    AppendNumber(head, reply.retry_after_seconds);
    head.append("\r\n");
  }
  if (!reply.allow.empty()) {
    head.append("Allow: ");
    head.append(reply.allow);
    head.append("\r\n");
  }
  if (!reply.www_authenticate.empty()) {
    head.append("WWW-Authenticate: ");
    head.append(reply.www_authenticate);
    head.append("\r\n");
  }
  switch (persistence) {
    case Persistence::kKeepAlive:
      break;
    case Persistence::kKeepAliveHttp10:
      head.append("Connection: keep-alive\r\n");
      break;
    case Persistence::kClose:
      head.append("Connection: close\r\n");
      break;
  }
  head.append("\r\n");
}

}  // namespace hotdeal::gateway
