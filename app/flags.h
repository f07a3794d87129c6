// Command-line flags with environment twins: `--threads 4` or HOTDEAL_THREADS=4. A flag beats
// its twin, the twin beats the default. Each flag binds to one field of a config struct, so
// --help can print the defaults straight from a default-constructed config.
// Start-up code only: this allocates freely and must never run per request.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotdeal::app {

class FlagSet {
 public:
  // Sets a field from text; answers an error message, or nullopt when the text was valid.
  using Setter = std::function<std::optional<std::string>(std::string_view)>;
  // Renders a field's current value for --help.
  using Printer = std::function<std::string()>;

  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  void Add(std::string name, std::string help, std::string* field);
  void Add(std::string name, std::string help, std::uint16_t* field);
  void Add(std::string name, std::string help, std::uint32_t* field, std::uint32_t min,
           std::uint32_t max);
  void Add(std::string name, std::string help, bool* field);
  // A duration in whole units of its own type: --idle-timeout-ms binds a milliseconds field.
  template <class Rep, class Period>
  void Add(std::string name, std::string help, std::chrono::duration<Rep, Period>* field,
           std::uint32_t min, std::uint32_t max);
  // A whole number from `min` to `max` that `set` stores as its field wants (e.g. MiB as bytes)
  // and `get` reads back for --help.
  void AddNumber(std::string name, std::string help, std::uint32_t min, std::uint32_t max,
                 std::function<void(std::uint32_t)> set, std::function<std::uint64_t()> get);
  // A field of any enum-like type chosen by name, e.g. --log kafka|none.
  template <class T>
  void AddChoice(std::string name, std::string help, T* field,
                 std::vector<std::pair<std::string, T>> choices);
  // A field fed by a custom parser, e.g. --listen HOST:PORT. A `secret` flag's value is never
  // repeated in an error message.
  void AddCustom(std::string name, std::string help, Setter setter, Printer printer,
                 bool secret = false);
  // `--<name>-file PATH` beside a secret flag: `apply` gets the file's text without its final
  // line break, so the secret never shows in `ps` or the environment. Errors name the path,
  // never the text. Whichever of the two flags comes last wins.
  void AddSecretFile(const std::string& name, Setter apply);

  // Applies the environment twins, then `args` (without the program and command names).
  // Answers an error message for an unknown flag, a missing or bad value.
  std::optional<std::string> Parse(const std::vector<std::string_view>& args,
                                   const std::function<const char*(const char*)>& getenv);

  // `--name value  (env HOTDEAL_NAME, default ...)` per flag.
  std::string Help() const;

  const std::string& command() const { return command_; }

  // The environment twin of a flag name: listen-host -> HOTDEAL_LISTEN_HOST.
  static std::string EnvName(std::string_view flag);

 private:
  struct Flag {
    std::string help;
    Setter set;
    Printer print;
    std::string default_text;
    bool secret = false;
  };
  void Insert(std::string name, std::string help, Setter setter, Printer printer,
              bool secret = false);

  std::string command_;
  std::map<std::string, Flag> flags_;  // sorted, so --help reads alphabetically
};

template <class Rep, class Period>
void FlagSet::Add(std::string name, std::string help, std::chrono::duration<Rep, Period>* field,
                  std::uint32_t min, std::uint32_t max) {
  AddNumber(
      std::move(name), std::move(help), min, max,
      [field](std::uint32_t value) { *field = std::chrono::duration<Rep, Period>(value); },
      [field] { return static_cast<std::uint64_t>(field->count()); });
}

template <class T>
void FlagSet::AddChoice(std::string name, std::string help, T* field,
                        std::vector<std::pair<std::string, T>> choices) {
  std::string names;
  for (const auto& [text, value] : choices)
    names += (names.empty() ? "" : "|") + text;
  Setter setter = [field, choices, names](std::string_view text) -> std::optional<std::string> {
    for (const auto& [candidate, value] : choices) {
      if (candidate == text) {
        *field = value;
        return std::nullopt;
      }
    }
    return "must be one of " + names;
  };
  Printer printer = [field, choices]() -> std::string {
    for (const auto& [text, value] : choices) {
      if (value == *field) return text;
    }
    return "?";
  };
  Insert(std::move(name), std::move(help) + " (" + names + ")", std::move(setter),
         std::move(printer));
}

}  // namespace hotdeal::app
