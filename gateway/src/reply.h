// Responses: the API's error codes and their statuses, the single Outcome-to-status map, and
// the serialization of a reply's head. Bodies are written by JsonWriter into a buffer the
// connection reuses. Must never throw and never produce a head without Content-Length
// (but an event stream's, whose body ends with the connection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hotdeal/engine/event.h"
#include "hotdeal/engine/types.h"

namespace hotdeal::gateway {

// The `error` codes of API.md, each with one status.
enum class ApiError : std::uint8_t {
  kBadRequest,
  kUnauthorized,
  kForbidden,
  kNotStarted,
  kEnded,
  kPaused,
  kNotFound,
  kMethodNotAllowed,
  kSoldOut,
  kAlreadyClaimed,
  kAlreadyRedeemed,
  kExpired,
  kLimitExceeded,
  kConflict,
  kCapacity,
  kPayloadTooLarge,
  kRateLimited,
  kUnavailable,
};

unsigned StatusOf(ApiError error);
std::string_view CodeOf(ApiError error);

// Everything the gateway says about an engine Outcome: its HTTP status, its error code and
// message when it is an error, and its metrics label.
struct OutcomeReply {
  unsigned status = 0;
  bool is_error = false;
  ApiError error = ApiError::kBadRequest;  // meaningful when is_error
  std::string_view message;                // meaningful when is_error
  std::string_view name;                   // label of hotdeal_engine_outcomes_total
};
OutcomeReply MapOutcome(engine::Outcome outcome);

// kEventStream: the head of GET /v1/campaigns/{id}/stream, which has no Content-Length (the
// events run until the connection closes); kHtml: the demo page.
enum class ContentType : std::uint8_t { kJson, kPrometheusText, kEventStream, kHtml };

// One response being built; the connection keeps a few and reuses their strings.
struct Reply {
  unsigned status = 0;
  ContentType content_type = ContentType::kJson;
  std::string_view allow;                 // 405 only: static text such as "GET, POST"
  std::string_view www_authenticate;      // 401 only: static text, the Bearer challenge
  std::string_view cors_origin;           // a listed origin (owned by the Api): CORS headers for it
  bool preflight = false;                 // 204 answer to a CORS preflight
  std::uint32_t retry_after_seconds = 0;  // 503 and 429 carry Retry-After; 0: none
  std::string body;
  // Set when the decision behind the reply produced an event the durable log has not yet
  // confirmed: the reply must wait for it (or the ticket be forgotten) before it is sent.
  engine::LogTicket ticket;
  // The engine answered Outcome::kPending: the request reached a decision the durable log has
  // not answered yet, and the reply (503 pending) stands only if waiting for it runs out.
  bool undecided = false;

  void Reset() {
    status = 0;
    content_type = ContentType::kJson;
    allow = {};
    www_authenticate = {};
    cors_origin = {};
    preflight = false;
    retry_after_seconds = 0;
    body.clear();
    ticket = {};
    undecided = false;
  }
};

// Sets `reply` to the error shape {"error": code, "message": message}; `claim_id`, if not
// empty, is added (already_claimed carries the existing claim).
void SetError(Reply& reply, ApiError error, std::string_view message,
              std::string_view claim_id = {});

// 401 unauthorized with its `WWW-Authenticate` challenge (RFC 6750): `token_sent` says that a
// bearer token came and was refused (error="invalid_token"), rather than none at all.
void SetUnauthorized(Reply& reply, std::string_view message, bool token_sent);

// 429 rate_limited with Retry-After: the seconds until the caller's next token is back.
void SetRateLimited(Reply& reply, std::string_view message, std::uint32_t retry_after_seconds);

// Seconds a client is asked to wait on 503.
inline constexpr std::uint32_t kRetryAfterSeconds = 1;

enum class Persistence : std::uint8_t { kKeepAlive, kKeepAliveHttp10, kClose };

// Writes the status line and headers for `reply` into `head` (cleared first).
void WriteHead(const Reply& reply, Persistence persistence, std::string& head);

}  // namespace hotdeal::gateway
