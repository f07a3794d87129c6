// The API of /work/shared/design/API.md over the engine: routing, admin auth, request decoding
// and replies for one parsed request. Runs on a gateway worker thread; must never block, never
// throw per request and never hold state between requests (all of it lives in the engine or
// the caller's WorkerContext).
#pragma once

#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "hotdeal/engine/engine.h"
#include "hotdeal/gateway/durable_log.h"
#include "hotdeal/gateway/routes.h"
#include "http_request.h"
#include "metrics.h"
#include "reply.h"
#include "worker_stats.h"

namespace hotdeal::gateway {

// What one worker thread owns; only that thread touches it.
struct WorkerContext {
  explicit WorkerContext(std::uint32_t index, WorkerStats& worker_stats)
      : id{index}, stats(worker_stats) {}

  engine::WorkerId id;
  simdjson::ondemand::parser json;  // reused for every body this thread decodes
  engine::TimePoint now{};          // the cached clock: refreshed once per read batch
  WorkerStats& stats;
};

// kDone: the reply is complete when Handle returns. kPending: the reply (a 201) holds
// `reply.ticket`, which the caller must await on the durable log before sending it
// (gateway/README.md, "Durable acks").
enum class Completion : std::uint8_t { kDone, kPending };

class Api {
 public:
  // `log` is null with `--log none` (no decision then carries a ticket).
  Api(engine::Engine& engine, std::string admin_token, const std::atomic<bool>& ready,
      const GatewayMetrics& metrics, DurableLog* log, AckMode ack);

  // Answers `request` into `reply`; `route` is set for metrics.
  Completion Handle(WorkerContext& worker, RequestData& request, Reply& reply, RouteId& route);

 private:
  void Dispatch(WorkerContext& worker, const Route& route, const RouteMatch& match,
                RequestData& request, Reply& reply);
  void CreateCampaign(WorkerContext& worker, RequestData& request, Reply& reply);
  void ListCampaigns(WorkerContext& worker, Reply& reply);
  void GetCampaign(WorkerContext& worker, std::string_view id_text, Reply& reply);
  void CloseCampaign(WorkerContext& worker, std::string_view id_text, RequestData& request,
                     Reply& reply);
  void CreateClaim(WorkerContext& worker, std::string_view id_text, RequestData& request,
                   Reply& reply);
  void GetClaim(std::string_view id_text, std::string_view user_text, Reply& reply);
  void CreateOrder(WorkerContext& worker, std::string_view id_text, RequestData& request,
                   Reply& reply);
  void MoveOrder(WorkerContext& worker, RouteId route, std::string_view order_text,
                 RequestData& request, Reply& reply);
  void GetOrder(WorkerContext& worker, std::string_view order_text, Reply& reply);
  void Time(WorkerContext& worker, Reply& reply);
  void Ready(Reply& reply);
  void Metrics(Reply& reply);

  bool Authorized(const RequestData& request) const;

  engine::Engine& engine_;
  const std::string admin_token_;
  const std::atomic<bool>& ready_;
  const GatewayMetrics& metrics_;
  DurableLog* const log_;
  const AckMode ack_;
};

}  // namespace hotdeal::gateway
