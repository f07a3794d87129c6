// MetricsRegistry: every registered component in one scrape, in order, late ones included.
#include "hotdeal/base/metrics_registry.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace hotdeal::base {
namespace {

// A component exporting one counter, as the gateway's and persistence's probes do.
std::shared_ptr<prometheus::Registry> Component(const std::string& name, double value) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name(name).Help(name).Register(*registry).Add({}).Increment(value);
  return registry;
}

TEST(MetricsRegistryTest, ScrapesEveryComponentInRegistrationOrder) {
  MetricsRegistry metrics;
  EXPECT_TRUE(metrics.Collect().empty());
  metrics.Register(Component("first_total", 2));
  metrics.Register(Component("second_total", 5));
  std::string text = metrics.Scrape();
  auto first = text.find("first_total 2");
  auto second = text.find("second_total 5");
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_LT(first, second);
}

TEST(MetricsRegistryTest, AComponentRegisteredAfterAScrapeShowsInTheNext) {
  MetricsRegistry metrics;
  metrics.Register(Component("early_total", 1));
  EXPECT_EQ(metrics.Scrape().find("late_total"), std::string::npos);
  metrics.Register(Component("late_total", 3));
  EXPECT_NE(metrics.Scrape().find("late_total 3"), std::string::npos);
  EXPECT_EQ(metrics.Collect().size(), 2u);
}

}  // namespace
}  // namespace hotdeal::base
