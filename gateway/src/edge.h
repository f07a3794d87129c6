// The edge in front of the API: which peers are trusted proxies (--trusted-proxies CIDR,...),
// and the client address such a proxy reports in X-Forwarded-For. Parsing at start may
// allocate; the per-request checks never do. Any thread, concurrently (state fixed at start).
#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hotdeal::gateway {

// An address as 16 bytes: IPv4 (and IPv4-mapped IPv6) in the ::ffff:0:0/96 form, so one
// comparison covers both families.
using AddressBytes = std::array<unsigned char, 16>;
AddressBytes ToBytes(const boost::asio::ip::address& address);
// An address's text ("203.0.113.7", "2001:db8::1"); nullopt if it is not one. No allocation.
std::optional<AddressBytes> ParseAddress(std::string_view text);

// The PROXY protocol v1 line a proxy (HAProxy, nginx `proxy_protocol`, AWS NLB) may send
// before the first request: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", at most 107 bytes.
enum class ProxyLine : std::uint8_t {
  kAbsent,     // the bytes do not start with "PROXY "
  kPartial,    // a prefix of a line: read more
  kClient,     // a whole line naming the client: `client` set, `size` bytes to consume
  kUnknown,    // "PROXY UNKNOWN ...": no client given (a health check); `size` to consume
  kMalformed,  // starts as one but is not a valid line
};
struct ProxyLineRead {
  ProxyLine kind = ProxyLine::kAbsent;
  std::size_t size = 0;
  AddressBytes client{};
};
ProxyLineRead ReadProxyLine(std::string_view bytes);

class TrustedProxies {
 public:
  // Comma-separated CIDRs or addresses ("10.0.0.0/8,::1"); nullopt and `error` if one is not.
  static std::optional<TrustedProxies> Parse(const std::vector<std::string>& cidrs,
                                             std::string& error);
  TrustedProxies() = default;

  bool empty() const { return ranges_.empty(); }
  bool Contains(const AddressBytes& address) const;

  // The client behind a trusted peer: the right-most X-Forwarded-For entry that is not itself
  // a trusted proxy (each proxy appends the peer it saw, so entries left of it are the
  // client's to forge). nullopt if an entry is not an address.
  std::optional<AddressBytes> ClientOf(std::string_view forwarded_for) const;

 private:
  struct Range {
    AddressBytes network{};
    unsigned prefix_bits = 0;  // of the 128-bit form
  };
  std::vector<Range> ranges_;
};

}  // namespace hotdeal::gateway
