// TrustedProxies: CIDR ranges over 128-bit addresses, X-Forwarded-For read from the right.
#include "edge.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace hotdeal::gateway {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

bool IsV4(const AddressBytes& bytes) {
  constexpr std::array<unsigned char, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), kMapped.data(), kMapped.size()) == 0;
}

}  // namespace

AddressBytes ToBytes(const boost::asio::ip::address& address) {
  if (address.is_v4())
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, address.to_v4()).to_bytes();
  return address.to_v6().to_bytes();
}

std::optional<AddressBytes> ParseAddress(std::string_view text) {
  std::array<char, INET6_ADDRSTRLEN + 1> buffer{};
  if (text.empty() || text.size() >= buffer.size() - 1) return std::nullopt;
  std::memcpy(buffer.data(), text.data(), text.size());
  AddressBytes bytes{};
  std::array<unsigned char, 4> v4{};
  if (inet_pton(AF_INET, buffer.data(), v4.data()) == 1) {
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, v4.data(), v4.size());
    return bytes;
  }
  if (inet_pton(AF_INET6, buffer.data(), bytes.data()) == 1) return bytes;
  return std::nullopt;
}

ProxyLineRead ReadProxyLine(std::string_view bytes) {
  constexpr std::string_view kSignature = "PROXY ";
  constexpr std::size_t kLineBytesMax = 107;  // the spec's bound, CRLF included
  std::size_t compared = std::min(bytes.size(), kSignature.size());
  if (bytes.substr(0, compared) != kSignature.substr(0, compared)) return {};
  std::size_t end = bytes.find("\r\n");
  if (end == std::string_view::npos) {
    return {bytes.size() < kLineBytesMax ? ProxyLine::kPartial : ProxyLine::kMalformed};
  }
  if (end + 2 > kLineBytesMax) return {ProxyLine::kMalformed};
  ProxyLineRead read;
  read.size = end + 2;
  std::string_view line = bytes.substr(kSignature.size(), end - kSignature.size());
  std::array<std::string_view, 5> fields{};
  std::size_t count = 0;
  while (!line.empty() && count < fields.size()) {
    std::size_t space = line.find(' ');
    fields[count++] = line.substr(0, space);
    line.remove_prefix(space == std::string_view::npos ? line.size() : space + 1);
  }
  if (count >= 1 && fields[0] == "UNKNOWN") {
    read.kind = ProxyLine::kUnknown;
    return read;
  }
  std::optional<AddressBytes> client =
      count == 5 && line.empty() ? ParseAddress(fields[1]) : std::nullopt;
  bool family = fields[0] == "TCP4" || fields[0] == "TCP6";
  if (!family || !client || !ParseAddress(fields[2])) return {ProxyLine::kMalformed};
  read.kind = ProxyLine::kClient;
  read.client = *client;
  return read;
}

std::optional<TrustedProxies> TrustedProxies::Parse(const std::vector<std::string>& cidrs,
                                                    std::string& error) {
  TrustedProxies proxies;
  for (const std::string& cidr : cidrs) {
    std::string_view text = Trim(cidr);
    std::size_t slash = text.find('/');
    std::optional<AddressBytes> network = ParseAddress(text.substr(0, slash));
    if (!network) {
      error = "'" + cidr + "' is not an address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)";
      return std::nullopt;
    }
    unsigned family_bits = IsV4(*network) ? 32 : 128;
    unsigned prefix = family_bits;
    if (slash != std::string_view::npos) {
      std::string_view digits = text.substr(slash + 1);
      auto [end, parse_error] =
          std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
      if (parse_error != std::errc{} || end != digits.data() + digits.size() ||
          prefix > family_bits) {
        error = "'" + cidr + "' has a prefix length outside 0.." + std::to_string(family_bits);
        return std::nullopt;
      }
    }
    Range range{*network, prefix + (128 - family_bits)};
    // Zero the host bits, so 10.1.2.3/8 means 10.0.0.0/8.
    for (unsigned bit = range.prefix_bits; bit < 128; ++bit)
      range.network[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
    proxies.ranges_.push_back(range);
  }
  return proxies;
}

bool TrustedProxies::Contains(const AddressBytes& address) const {
  for (const Range& range : ranges_) {
    unsigned full = range.prefix_bits / 8;
    unsigned rest = range.prefix_bits % 8;
    if (std::memcmp(address.data(), range.network.data(), full) != 0) continue;
    if (rest == 0) return true;
    auto mask = static_cast<unsigned char>(0xff00u >> rest);
    if ((address[full] & mask) == range.network[full]) return true;
  }
  return false;
}

std::optional<AddressBytes> TrustedProxies::ClientOf(std::string_view forwarded_for) const {
  std::optional<AddressBytes> client;
  while (!forwarded_for.empty()) {
    std::size_t comma = forwarded_for.rfind(',');
    std::string_view entry =
        Trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    client = ParseAddress(entry);
    if (!client) return std::nullopt;
    if (!Contains(*client)) return client;
  }
  return client;  // every entry a trusted proxy: the left-most one
}

}  // namespace hotdeal::gateway
