// Closed-loop request batches and single control-plane calls.
#include "batch.h"

#include <cstdio>

namespace hotdeal::bench {

std::size_t FormatRequest(char* out, std::size_t capacity, std::string_view method,
                          std::string_view target, std::string_view host,
                          std::string_view extra_headers, std::string_view body) {
  const int size =
      body.empty() ? std::snprintf(out, capacity, "%.*s %.*s HTTP/1.1\r\nHost: %.*s\r\n%.*s\r\n",
                                   static_cast<int>(method.size()), method.data(),
                                   static_cast<int>(target.size()), target.data(),
                                   static_cast<int>(host.size()), host.data(),
                                   static_cast<int>(extra_headers.size()), extra_headers.data())
                   : std::snprintf(out, capacity,
                                   "%.*s %.*s HTTP/1.1\r\nHost: %.*s\r\n%.*sContent-Type: "
                                   "application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
                                   static_cast<int>(method.size()), method.data(),
                                   static_cast<int>(target.size()), target.data(),
                                   static_cast<int>(host.size()), host.data(),
                                   static_cast<int>(extra_headers.size()), extra_headers.data(),
                                   body.size(), static_cast<int>(body.size()), body.data());
  if (size < 0 || static_cast<std::size_t>(size) >= capacity) return 0;
  return static_cast<std::size_t>(size);
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
