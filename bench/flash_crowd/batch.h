// Closed-loop batches over a LoadLoop: send `count` requests as fast as the connections allow
// and hand each answer to a sink. Setup calls, connection warm-up and the audit's GETs use it;
// the sale itself uses the open-loop FireSource instead.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "load_loop.h"

namespace hotdeal::bench {

// Appends text and numbers into a fixed buffer without formatting machinery (printf was a
// visible share of the load thread's user time). Once something does not fit, ok() is false.
class BufferWriter {
 public:
  BufferWriter(char* out, std::size_t capacity) : out_(out), capacity_(capacity) {}
  BufferWriter& Append(std::string_view text);
  BufferWriter& Append(int64_t number);
  bool ok() const { return ok_; }
  std::size_t size() const { return size_; }
  std::string_view view() const { return {out_, size_}; }

 private:
  char* out_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  bool ok_ = true;
};

// Writes "METHOD target HTTP/1.1" with Host, the extra header lines (each ending in \r\n) and,
// if body is not empty, a JSON body. Returns the size, or 0 if it does not fit.
std::size_t FormatRequest(char* out, std::size_t capacity, std::string_view method,
                          std::string_view target, std::string_view host,
                          std::string_view extra_headers, std::string_view body);

class BatchSource : public AttemptSource {
 public:
  using Writer = std::function<std::size_t(int index, char* out, std::size_t capacity)>;
  // Exactly one of response / failure is set.
  using Sink = std::function<void(int index, const ParsedResponse* response,
                                  std::optional<Failure> failure)>;

  BatchSource(int count, Writer writer, Sink sink)
      : count_(count), writer_(std::move(writer)), sink_(std::move(sink)) {}

  bool PeekNextNs(int64_t& intended_ns) override;
  Attempt Pop() override;
  std::size_t WriteRequest(const Attempt& attempt, char* out, std::size_t capacity) override;
  void OnResponse(const Attempt& attempt, const ParsedResponse& response, int64_t sent_ns,
                  int64_t now_ns) override;
  void OnFailure(const Attempt& attempt, Failure failure, int64_t now_ns) override;

 private:
  int count_;
  int next_ = 0;
  Writer writer_;
  Sink sink_;
};

// One request, one answer, for the control plane (clock, campaign create/read).
struct HttpAnswer {
  int status = 0;  // 0 when the request failed below HTTP
  std::string body;
  std::string failure;
};
HttpAnswer CallOnce(LoadLoop& loop, std::string_view method, std::string_view target,
                    std::string_view host, std::string_view extra_headers, std::string_view body,
                    int64_t deadline_ns);

}  // namespace hotdeal::bench
