// GET /v1/campaigns/{id}/stream: server-sent events of a campaign's `remaining` and `status`.
// A connection whose stream head has been written hands its socket to its worker's StreamHub.
// The hub keeps the streams of each watched campaign in an intrusive list and runs ONE timer
// per worker: each tick reads every watched campaign once (Engine::GetCampaign, no lock) and
// writes an event only to the streams whose last event differs, a slice of streams per turn
// of the event loop. A stream holds no buffer but
// its one event; it never queues: a reader that has not taken the last write within the write
// deadline is dropped. Everything here runs on the worker's thread.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "hotdeal/engine/engine.h"

namespace hotdeal::gateway {

class Stream;
class Worker;

// What a stream tells, and the event id that names it: stock_max - remaining times 5 plus the
// status's rank (scheduled, live, sold_out, ended, paused). Equal ids are equal states of a
// campaign; for a coupon that is never paused or changed the id only grows (units only go, the
// status only moves forward), so a client's Last-Event-ID also says how far behind it is.
struct StreamState {
  std::uint32_t remaining = 0;
  engine::CampaignStatus status = engine::CampaignStatus::kScheduled;
  std::uint64_t id = 0;
};
StreamState StateOf(const engine::CampaignView& view);

// The Last-Event-ID header's value as an event id: decimal digits only, else nullopt.
std::optional<std::uint64_t> ParseEventId(std::string_view text);

// `id: N\ndata: {"remaining":R,"status":"S"}\n\n` into `out`; returns the bytes written.
inline constexpr std::size_t kStreamEventBytesMax = 112;
std::size_t FormatEvent(const StreamState& state, std::array<char, kStreamEventBytesMax>& out);

// One watched campaign on one worker: its last read state and its streams.
struct StreamWatch {
  engine::CampaignId campaign;
  StreamState state;
  bool known = true;          // false: the campaign is gone, its streams end
  Stream* streams = nullptr;  // intrusive list
};

class StreamHub {
 public:
  StreamHub(Worker& worker, engine::Engine& engine);
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  // The stream head went out on `socket`: from now on it carries `campaign`'s events, first
  // the current state unless it is `last_event_id` (what the client heard before it
  // reconnected). The stream takes over the connection's place in the connection cap and its
  // per-address counter.
  void Open(boost::asio::ip::tcp::socket socket, const engine::CampaignId& campaign,
            std::optional<std::uint64_t> last_event_id, std::uint32_t address_counter);
  // Drain and stop: every stream closes (a browser's EventSource reconnects by itself), the
  // timer stops, and no stream opens any more.
  void CloseAll();

  Worker& worker() { return worker_; }
  // Called by ~Stream: a walk in progress must not come back to it.
  void Leaving(const Stream& stream);

 private:
  // Reads the campaign once; false: it is gone (a creation the log undid).
  bool Refresh(StreamWatch& watch);
  void Arm();
  void OnTick();
  // Offers the tick's states to the streams, a slice at a time: between slices the event loop
  // serves its requests, so thousands of streams do not stall a claim for a whole fan-out.
  void Walk();

  Worker& worker_;
  engine::Engine& engine_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
  bool closed_ = false;
  // The walk in progress: the watch and its next stream to offer to.
  std::size_t walk_watch_ = 0;
  Stream* walk_next_ = nullptr;
  // Watches never move (streams point at theirs); one without streams is dropped at a tick.
  std::vector<std::unique_ptr<StreamWatch>> watches_;
};

class Stream : public std::enable_shared_from_this<Stream> {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  Stream(StreamHub& hub, StreamWatch& watch, boost::asio::ip::tcp::socket socket,
         std::uint32_t address_counter);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void Start(std::optional<std::uint64_t> last_event_id);
  // The hub's tick: the watch's state if this stream has not sent it, a keep-alive comment
  // if it has been quiet for stream_keepalive; a reader still not taking the last write after
  // the write deadline is dropped.
  void Offer(SteadyTime now);
  void Close();

  // The watch's intrusive list.
  Stream* prev = nullptr;
  Stream* next = nullptr;

 private:
  void SendState();
  void Send(std::size_t bytes);
  // The client sends nothing on a stream; waiting for input is how its leaving is seen.
  void AwaitInput();

  StreamHub& hub_;
  StreamWatch& watch_;
  boost::asio::ip::tcp::socket socket_;
  std::uint32_t address_counter_;
  std::array<char, kStreamEventBytesMax> out_{};  // the write in flight
  std::optional<std::uint64_t> sent_;             // id of the last event the client has
  bool writing_ = false;
  bool closed_ = false;
  SteadyTime write_started_{};
  SteadyTime last_write_{};
};

}  // namespace hotdeal::gateway
