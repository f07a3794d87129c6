// FlagSet: flags, environment twins, precedence and the errors a user sees.
#include "flags.h"

#include <gtest/gtest.h>

#include <map>

namespace hotdeal::app {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  const char* operator()(const char* name) const {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  }
};

TEST(FlagsTest, EnvNameUppercasesAndPrefixes) {
  EXPECT_EQ(FlagSet::EnvName("mysql-host"), "HOTDEAL_MYSQL_HOST");
  EXPECT_EQ(FlagSet::EnvName("threads"), "HOTDEAL_THREADS");
}

TEST(FlagsTest, FlagBeatsEnvironmentBeatsDefault) {
  std::uint32_t threads = 1;
  std::string name = "default";
  FlagSet flags("test");
  flags.Add("threads", "", &threads, 1, 64);
  flags.Add("name", "", &name);
  FakeEnv env{{{"HOTDEAL_THREADS", "3"}, {"HOTDEAL_NAME", "from-env"}}};

  ASSERT_EQ(flags.Parse({"--threads", "5"}, env), std::nullopt);
  EXPECT_EQ(threads, 5u);
  EXPECT_EQ(name, "from-env");
}

TEST(FlagsTest, AcceptsEqualsForm) {
  std::uint16_t port = 0;
  FlagSet flags("test");
  flags.Add("port", "", &port);
  ASSERT_EQ(flags.Parse({"--port=8081"}, FakeEnv{}), std::nullopt);
  EXPECT_EQ(port, 8081);
}

TEST(FlagsTest, RejectsUnknownMissingAndOutOfRange) {
  std::uint32_t threads = 1;
  FlagSet flags("test");
  flags.Add("threads", "", &threads, 1, 64);
  EXPECT_NE(flags.Parse({"--nope", "1"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"--threads"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"--threads", "0"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"--threads", "65"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"--threads", "4x"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"threads"}, FakeEnv{}), std::nullopt);
  EXPECT_EQ(threads, 1u);
}

TEST(FlagsTest, BadEnvironmentValueNamesTheVariable) {
  std::uint32_t threads = 1;
  FlagSet flags("test");
  flags.Add("threads", "", &threads, 1, 64);
  auto error = flags.Parse({}, FakeEnv{{{"HOTDEAL_THREADS", "many"}}});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("HOTDEAL_THREADS"), std::string::npos);
}

TEST(FlagsTest, ChoicesAndBooleans) {
  enum class Mode { kA, kB };
  Mode mode = Mode::kA;
  bool enabled = true;
  FlagSet flags("test");
  flags.AddChoice("mode", "", &mode, {{"a", Mode::kA}, {"b", Mode::kB}});
  flags.Add("enabled", "", &enabled);
  ASSERT_EQ(flags.Parse({"--mode", "b", "--enabled", "off"}, FakeEnv{}), std::nullopt);
  EXPECT_EQ(mode, Mode::kB);
  EXPECT_FALSE(enabled);
  EXPECT_NE(flags.Parse({"--mode", "c"}, FakeEnv{}), std::nullopt);
  EXPECT_NE(flags.Parse({"--enabled", "yes"}, FakeEnv{}), std::nullopt);
}

TEST(FlagsTest, HelpListsEveryFlagWithTwinAndDefault) {
  std::uint32_t threads = 2;
  FlagSet flags("test");
  flags.Add("threads", "worker threads", &threads, 1, 64);
  std::string help = flags.Help();
  EXPECT_NE(help.find("--threads"), std::string::npos);
  EXPECT_NE(help.find("HOTDEAL_THREADS"), std::string::npos);
  EXPECT_NE(help.find("default '2'"), std::string::npos);
}

}  // namespace
}  // namespace hotdeal::app
