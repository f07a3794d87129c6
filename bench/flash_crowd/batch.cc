// Closed-loop request batches and single control-plane calls.
#include "batch.h"

#include <charconv>
#include <cstring>

namespace hotdeal::bench {

BufferWriter& BufferWriter::Append(std::string_view text) {
  // An empty view may carry a null data(), which memcpy must not see.
  if (text.empty()) return *this;
  if (!ok_ || text.size() > capacity_ - size_) {
    ok_ = false;
    return *this;
  }
  std::memcpy(out_ + size_, text.data(), text.size());
  size_ += text.size();
  return *this;
}

BufferWriter& BufferWriter::Append(int64_t number) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, number).ptr;
  return Append({digits, static_cast<std::size_t>(end - digits)});
}

std::size_t FormatRequest(char* out, std::size_t capacity, std::string_view method,
                          std::string_view target, std::string_view host,
                          std::string_view extra_headers, std::string_view body) {
  BufferWriter writer(out, capacity);
  writer.Append(method).Append(" ").Append(target).Append(" HTTP/1.1\r\nHost: ").Append(host);
  writer.Append("\r\n").Append(extra_headers);
  if (!body.empty()) {
    writer.Append("Content-Type: application/json\r\nContent-Length: ")
        .Append(static_cast<int64_t>(body.size()))
        .Append("\r\n");
  }
  writer.Append("\r\n").Append(body);
  return writer.ok() ? writer.size() : 0;
}

bool BatchSource::PeekNextNs(int64_t& intended_ns) {
  // Closed loop: everything is due at once; the connection pool is the only pacing.
  intended_ns = 0;
  return next_ < count_;
}

Attempt BatchSource::Pop() {
  Attempt attempt;
  attempt.user = next_++;
  return attempt;
}

std::size_t BatchSource::WriteRequest(const Attempt& attempt, char* out, std::size_t capacity) {
  return writer_(attempt.user, out, capacity);
}

void BatchSource::OnResponse(const Attempt& attempt, const ParsedResponse& response,
                             int64_t /*sent_ns*/, int64_t /*now_ns*/) {
  sink_(attempt.user, &response, std::nullopt);
}

void BatchSource::OnFailure(const Attempt& attempt, Failure failure, int64_t /*now_ns*/) {
  sink_(attempt.user, nullptr, failure);
}

HttpAnswer CallOnce(LoadLoop& loop, std::string_view method, std::string_view target,
                    std::string_view host, std::string_view extra_headers, std::string_view body,
                    int64_t deadline_ns) {
  HttpAnswer answer;
  answer.failure = "no answer before the deadline";
  BatchSource source(
      1,
      [&](int, char* out, std::size_t capacity) {
        return FormatRequest(out, capacity, method, target, host, extra_headers, body);
      },
      [&](int, const ParsedResponse* response, std::optional<Failure> failure) {
        if (failure) {
          answer.failure = FailureName(*failure);
          return;
        }
        answer.failure.clear();
        answer.status = response->status_code;
        answer.body = response->body;
      });
  loop.Run(source, deadline_ns);
  return answer;
}

}  // namespace hotdeal::bench
