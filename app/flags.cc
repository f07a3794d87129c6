// Flag parsing for the `hotdeal` binary; see flags.h.
#include "flags.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

namespace hotdeal::app {
namespace {

std::optional<std::uint64_t> ParseUnsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::string FlagSet::EnvName(std::string_view flag) {
  std::string name = "HOTDEAL_";
  for (char c : flag) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

void FlagSet::Insert(std::string name, std::string help, Setter setter, Printer printer,
                     bool secret) {
  std::string default_text = printer();
  flags_[std::move(name)] =
      Flag{std::move(help), std::move(setter), std::move(printer), std::move(default_text), secret};
}

void FlagSet::Add(std::string name, std::string help, std::string* field) {
  Insert(
      std::move(name), std::move(help),
      [field](std::string_view text) -> std::optional<std::string> {
        *field = std::string(text);
        return std::nullopt;
      },
      [field] { return *field; });
}

void FlagSet::Add(std::string name, std::string help, std::uint16_t* field) {
  Insert(
      std::move(name), std::move(help),
      [field](std::string_view text) -> std::optional<std::string> {
        auto value = ParseUnsigned(text);
        if (!value || *value > std::numeric_limits<std::uint16_t>::max()) {
          return "must be a whole number from 0 to 65535";
        }
        *field = static_cast<std::uint16_t>(*value);
        return std::nullopt;
      },
      [field] { return std::to_string(*field); });
}

void FlagSet::Add(std::string name, std::string help, std::uint32_t* field, std::uint32_t min,
                  std::uint32_t max) {
  AddNumber(
      std::move(name), std::move(help), min, max, [field](std::uint32_t value) { *field = value; },
      [field] { return std::uint64_t{*field}; });
}

void FlagSet::AddNumber(std::string name, std::string help, std::uint32_t min, std::uint32_t max,
                        std::function<void(std::uint32_t)> set,
                        std::function<std::uint64_t()> get) {
  Insert(
      std::move(name), std::move(help),
      [set = std::move(set), min, max](std::string_view text) -> std::optional<std::string> {
        auto value = ParseUnsigned(text);
        if (!value || *value < min || *value > max) {
          return "must be a whole number from " + std::to_string(min) + " to " +
                 std::to_string(max);
        }
        set(static_cast<std::uint32_t>(*value));
        return std::nullopt;
      },
      [get = std::move(get)] { return std::to_string(get()); });
}

void FlagSet::Add(std::string name, std::string help, bool* field) {
  AddChoice(std::move(name), std::move(help), field, {{"on", true}, {"off", false}});
}

void FlagSet::AddCustom(std::string name, std::string help, Setter setter, Printer printer,
                        bool secret) {
  Insert(std::move(name), std::move(help), std::move(setter), std::move(printer), secret);
}

void FlagSet::AddSecretFile(const std::string& name, Setter apply) {
  Insert(
      name + "-file", "read --" + name + " from this file (its text, without the final line break)",
      [name, apply](std::string_view path) -> std::optional<std::string> {
        std::ifstream in{std::string(path), std::ios::binary};
        std::ostringstream text;
        text << in.rdbuf();
        if (!in.is_open() || in.bad()) return "cannot read the file";
        std::string secret = std::move(text).str();
        if (secret.ends_with('\n')) secret.pop_back();
        if (secret.ends_with('\r')) secret.pop_back();
        if (auto error = apply(secret)) return "its text is not a valid --" + name + ": " + *error;
        return std::nullopt;
      },
      [] { return std::string(); });
}

std::optional<std::string> FlagSet::Parse(const std::vector<std::string_view>& args,
                                          const std::function<const char*(const char*)>& getenv) {
  for (auto& [name, flag] : flags_) {
    std::string env = EnvName(name);
    if (const char* value = getenv(env.c_str())) {
      if (auto error = flag.set(value)) {
        return env + "=" + (flag.secret ? "<hidden>" : value) + ": " + *error;
      }
    }
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (!arg.starts_with("--")) return "unexpected argument '" + std::string(arg) + "'";
    arg.remove_prefix(2);
    std::optional<std::string_view> value;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto it = flags_.find(std::string(arg));
    if (it == flags_.end()) return "unknown flag --" + std::string(arg);
    if (!value) {
      if (i + 1 == args.size()) return "flag --" + std::string(arg) + " needs a value";
      value = args[++i];
    }
    if (auto error = it->second.set(*value)) {
      std::string shown = it->second.secret ? "<hidden>" : std::string(*value);
      return "--" + std::string(arg) + " " + shown + ": " + *error;
    }
  }
  return std::nullopt;
}

std::string FlagSet::Help() const {
  std::string text = "Flags of 'hotdeal " + command_ + "' (each also read from its environment " +
                     "twin; a flag beats its twin):\n";
  for (const auto& [name, flag] : flags_) {
    text += "  --" + name + "  " + flag.help + "\n      env " + EnvName(name) + ", default '" +
            flag.default_text + "'\n";
  }
  return text;
}

}  // namespace hotdeal::app
