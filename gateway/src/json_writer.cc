// JsonWriter: escaping follows RFC 8259. Input that is not valid UTF-8 is written with each bad
// byte replaced by U+FFFD, so a response stays valid JSON whatever a client stored earlier.
#include "json_writer.h"

#include <charconv>

namespace hotdeal::gateway {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at text[i], or 0 if the bytes there are not one.
std::size_t Utf8SequenceSize(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  std::size_t size = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    size = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    size = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    size = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + size > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < size; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return size;
}

// Printable ASCII that JSON takes as it is.
bool IsPlain(unsigned char c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

}  // namespace

void JsonWriter::Key(std::string_view key) {
  BeforeValue();
  Escaped(key);
  out_.push_back(':');
  // The value that follows belongs to this key: no comma before it.
  need_comma_ = false;
}

void JsonWriter::String(std::string_view value) {
  BeforeValue();
  Escaped(value);
}

void JsonWriter::Int(std::int64_t value) {
  BeforeValue();
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out_.append(digits, result.ptr);
}

void JsonWriter::Uint(std::uint64_t value) {
  BeforeValue();
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out_.append(digits, result.ptr);
}

void JsonWriter::Bool(bool value) {
  BeforeValue();
  out_.append(value ? "true" : "false");
}

void JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
}

void JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_.append(json);
}

void JsonWriter::Open(char bracket) {
  BeforeValue();
  out_.push_back(bracket);
  need_comma_ = false;
}

void JsonWriter::Close(char bracket) {
  out_.push_back(bracket);
  need_comma_ = true;
}

void JsonWriter::BeforeValue() {
  if (need_comma_) out_.push_back(',');
  need_comma_ = true;
}

void JsonWriter::Escaped(std::string_view text) {
  out_.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    // Ids, codes and most names are plain printable ASCII: copy such runs in one append.
    std::size_t plain_end = i;
    while (plain_end < text.size() && IsPlain(static_cast<unsigned char>(text[plain_end]))) {
      ++plain_end;
    }
    out_.append(text.data() + i, plain_end - i);
    i = plain_end;
    if (i == text.size()) break;
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      std::size_t size = Utf8SequenceSize(text, i);
      if (size == 0) {
        out_.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        ++i;
      } else {
        out_.append(text.substr(i, size));
        i += size;
      }
      continue;
    }
    switch (c) {
      case '"':
        out_.append("\\\"");
        break;
      case '\\':
        out_.append("\\\\");
        break;
      case '\n':
        out_.append("\\n");
        break;
      case '\r':
        out_.append("\\r");
        break;
      case '\t':
        out_.append("\\t");
        break;
      default: {
        // Other control characters as \u00XX; DEL too, so logs and terminals stay readable.
        char escape[] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
        out_.append(escape, sizeof escape);
      }
    }
    ++i;
  }
  out_.push_back('"');
}

}  // namespace hotdeal::gateway
