// --streams N: N event streams (GET /v1/campaigns/{id}/stream) of the sale's campaign held
// open through the sale, each timed to the moment it heard sold_out, and the server's
// resident memory before and after they opened (its /metrics). One thread, one epoll set;
// every socket is closed when the crowd is destroyed.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

namespace hotdeal::bench {

struct StreamsReport {
  int64_t wanted = 0;
  int64_t opened = 0;              // answered 200 and sent their first event
  int64_t heard_sold_out = 0;      // saw "status":"sold_out"
  int64_t first_sold_out_ns = -1;  // steady clock; -1: none
  int64_t last_sold_out_ns = -1;
  double rss_before_bytes = -1;  // the server's process_resident_memory_bytes; -1: unknown
  double rss_after_bytes = -1;
  std::string error;  // why not all opened
};

class StreamCrowd {
 public:
  StreamCrowd(const Endpoint& endpoint, const std::string& campaign_id, int64_t count);
  ~StreamCrowd();
  StreamCrowd(const StreamCrowd&) = delete;
  StreamCrowd& operator=(const StreamCrowd&) = delete;

  // Raises this process's descriptor limit as far as needed (and allowed), connects every
  // stream and waits until each has its first event or `deadline_ns` (steady) passes.
  void Open(int64_t deadline_ns);
  // Reads every stream until each has heard sold_out, `stop` is set and `grace_ns` more have
  // passed, or `deadline_ns` passes. Run on its own thread during the sale.
  void Watch(const std::atomic<bool>& stop, int64_t grace_ns, int64_t deadline_ns);

  const StreamsReport& report() const { return report_; }

 private:
  struct Stream {
    int fd = -1;
    bool head = false;   // the 200 head arrived
    bool first = false;  // the first event arrived
    int64_t sold_out_ns = -1;
    std::string tail;  // the last bytes read, so a marker split across reads is still found
  };
  // Reads what `stream` has; false: it closed or failed.
  bool Read(Stream& stream, int64_t now_ns);
  double ScrapeRss() const;

  Endpoint endpoint_;
  std::string request_;
  int epoll_ = -1;
  std::vector<Stream> streams_;
  StreamsReport report_;
};

}  // namespace hotdeal::bench
