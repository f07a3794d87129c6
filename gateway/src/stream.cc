// StreamHub and Stream: one timer per worker reads each watched campaign once per tick and
// writes to the streams that have not heard that state; nothing per stream but its socket,
// one small event buffer and its place in a list.
#include "stream.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>

#include "hotdeal/engine/names.h"
#include "worker.h"

namespace hotdeal::gateway {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// Sent once per stream, before its first event: how long a browser's EventSource waits
// before it reconnects (it sends Last-Event-ID then).
constexpr std::string_view kRetryField = "retry: 1000\n";
constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
// Streams offered an event per turn of the event loop: a write is a few microseconds, so a
// slice keeps a request waiting behind it about a millisecond.
constexpr std::size_t kStreamsPerSlice = 256;

std::size_t Append(std::array<char, kStreamEventBytesMax>& out, std::size_t at,
                   std::string_view text) {
  std::size_t n = std::min(text.size(), out.size() - at);
  std::memcpy(out.data() + at, text.data(), n);
  return at + n;
}

std::size_t AppendNumber(std::array<char, kStreamEventBytesMax>& out, std::size_t at,
                         std::uint64_t number) {
  auto result = std::to_chars(out.data() + at, out.data() + out.size(), number);
  return static_cast<std::size_t>(result.ptr - out.data());
}

}  // namespace

StreamState StateOf(const engine::CampaignView& view) {
  // Counted from stock_max, which never changes, so a top-up or a take-back (which move stock
  // and remaining together) still changes the id.
  std::uint64_t taken = view.spec.stock_max - std::min(view.remaining, view.spec.stock_max);
  constexpr auto kCampaignStatuses =
      static_cast<std::uint64_t>(engine::CampaignStatus::kPaused) + 1;
  return {view.remaining, view.status,
          taken * kCampaignStatuses + static_cast<std::uint64_t>(view.status)};
}

std::optional<std::uint64_t> ParseEventId(std::string_view text) {
  std::uint64_t id = 0;
  auto result = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || result.ec != std::errc{} || result.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return id;
}

std::size_t FormatEvent(const StreamState& state, std::array<char, kStreamEventBytesMax>& out) {
  std::size_t at = Append(out, 0, "id: ");
  at = AppendNumber(out, at, state.id);
  at = Append(out, at, "\ndata: {\"remaining\":");
  at = AppendNumber(out, at, state.remaining);
  at = Append(out, at, ",\"status\":\"");
  at = Append(out, at, engine::Name(state.status));
  return Append(out, at, "\"}\n\n");
}

StreamHub::StreamHub(Worker& worker, engine::Engine& engine)
    : worker_(worker), engine_(engine), timer_(worker.io()) {}

void StreamHub::Open(asio::ip::tcp::socket socket, const engine::CampaignId& campaign,
                     std::optional<std::uint64_t> last_event_id, std::uint32_t address_counter) {
  auto found = std::find_if(watches_.begin(), watches_.end(),
                            [&](const auto& watch) { return watch->campaign == campaign; });
  StreamWatch* watch = nullptr;
  if (found != watches_.end()) {
    watch = found->get();
  } else {
    watches_.push_back(std::make_unique<StreamWatch>());
    watch = watches_.back().get();
    watch->campaign = campaign;
  }
  auto stream = std::make_shared<Stream>(*this, *watch, std::move(socket), address_counter);
  // A new stream hears the state of now, not of the last tick. A campaign gone meanwhile (a
  // creation the log undid) or a server shutting down ends the stream at once.
  if (closed_ || !Refresh(*watch)) return stream->Close();
  stream->Start(last_event_id);
  if (!armed_) Arm();
}

bool StreamHub::Refresh(StreamWatch& watch) {
  engine::Decision<engine::CampaignView> found =
      engine_.GetCampaign(watch.campaign, worker_.context().now);
  if (!found.value) return false;
  watch.state = StateOf(*found.value);
  return true;
}

void StreamHub::Arm() {
  // armed_ stays set from here through the walk the tick starts, so an Open meanwhile does
  // not start a second cycle.
  armed_ = true;
  timer_.expires_after(worker_.options().stream_interval);
  timer_.async_wait([this](const error_code& error) {
    if (error || closed_) {
      armed_ = false;
      return;
    }
    OnTick();
  });
}

void StreamHub::OnTick() {
  worker_.RefreshClock();
  std::erase_if(watches_, [](const auto& watch) { return watch->streams == nullptr; });
  if (watches_.empty()) {
    armed_ = false;  // the next Open arms the timer again
    return;
  }
  for (auto& watch : watches_)
    watch->known = Refresh(*watch);
  walk_watch_ = 0;
  walk_next_ = watches_.front()->streams;
  Walk();
}

void StreamHub::Walk() {
  std::size_t budget = kStreamsPerSlice;
  while (walk_watch_ < watches_.size()) {
    StreamWatch& watch = *watches_[walk_watch_];
    while (walk_next_ != nullptr) {
      if (budget-- == 0) {
        worker_.RefreshClock();
        return asio::post(worker_.io(), [this] {
          if (!closed_) Walk();
        });
      }
      Stream* stream = walk_next_;
      walk_next_ = stream->next;
      if (watch.known) {
        stream->Offer(worker_.steady_now());
      } else {
        stream->Close();
      }
    }
    if (++walk_watch_ < watches_.size()) walk_next_ = watches_[walk_watch_]->streams;
  }
  Arm();
}

void StreamHub::Leaving(const Stream& stream) {
  if (walk_next_ == &stream) walk_next_ = stream.next;
}

void StreamHub::CloseAll() {
  closed_ = true;
  timer_.cancel();
  for (auto& watch : watches_) {
    for (Stream* stream = watch->streams; stream != nullptr; stream = stream->next) {
      stream->Close();
    }
  }
}

Stream::Stream(StreamHub& hub, StreamWatch& watch, asio::ip::tcp::socket socket,
               std::uint32_t address_counter)
    : hub_(hub), watch_(watch), socket_(std::move(socket)), address_counter_(address_counter) {
  next = watch_.streams;
  if (next != nullptr) next->prev = this;
  watch_.streams = this;
  hub_.worker().stats().streams_opened.Add();
}

Stream::~Stream() {
  hub_.Leaving(*this);
  // Only unlinks: the watch, empty or not, stays until the next tick looks at it.
  if (prev != nullptr) {
    prev->next = next;
  } else {
    watch_.streams = next;
  }
  if (next != nullptr) next->prev = prev;
  Worker& worker = hub_.worker();
  worker.stats().streams_closed.Add();
  worker.api().ReleaseConnection(address_counter_);
  worker.ConnectionClosed();
}

void Stream::Start(std::optional<std::uint64_t> last_event_id) {
  error_code ignored;
  socket_.non_blocking(true, ignored);  // AwaitInput drains with read_some
  last_write_ = hub_.worker().steady_now();
  AwaitInput();
  // A client that reconnects having heard the current state hears nothing until it changes.
  sent_ = last_event_id;
  if (sent_ != watch_.state.id) SendState();
}

void Stream::Offer(SteadyTime now) {
  if (closed_) return;
  if (writing_) {
    if (now - write_started_ >= hub_.worker().options().request_timeout) {
      hub_.worker().stats().streams_dropped.Add();
      Close();
    }
    return;
  }
  if (sent_ != watch_.state.id) return SendState();
  if (now - last_write_ >= hub_.worker().options().stream_keepalive) {
    kKeepAlive.copy(out_.data(), kKeepAlive.size());
    Send(kKeepAlive.size());
  }
}

void Stream::SendState() {
  std::size_t at = 0;
  if (!sent_) at = Append(out_, 0, kRetryField);  // the first event of this connection
  std::array<char, kStreamEventBytesMax> event;
  std::size_t size = FormatEvent(watch_.state, event);
  at = Append(out_, at, {event.data(), size});
  sent_ = watch_.state.id;
  hub_.worker().stats().stream_events.Add();
  Send(at);
}

void Stream::Send(std::size_t bytes) {
  writing_ = true;
  write_started_ = hub_.worker().steady_now();
  asio::async_write(socket_, asio::buffer(out_.data(), bytes),
                    [self = shared_from_this()](const error_code& error, std::size_t) {
                      self->writing_ = false;
                      self->last_write_ = self->hub_.worker().steady_now();
                      if (error) self->Close();
                    });
}

void Stream::AwaitInput() {
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& error) {
                       if (error || self->closed_) return self->Close();
                       // Whatever a client sends on a stream is discarded; end of input or an
                       // error means it has gone.
                       std::array<char, 512> discard;
                       error_code read_error;
                       while (!read_error) {
                         self->socket_.read_some(asio::buffer(discard), read_error);
                       }
                       if (read_error != asio::error::would_block) return self->Close();
                       self->AwaitInput();
                     });
}

void Stream::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
}

}  // namespace hotdeal::gateway
