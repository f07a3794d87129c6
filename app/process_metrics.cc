// ProcessMetrics: the process_* names and meanings are the Prometheus client libraries' own
// (docs/metrics.md), so stock process dashboards work on hotdeal too.
#include "process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace hotdeal::app {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily OneValue(std::string name, std::string help, MetricType type, double value,
                      std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric metric;
  metric.label = std::move(labels);
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {std::move(metric)}};
}

// The fields of /proc/self/stat this file reads (proc(5); 1-based as there).
struct Stat {
  double cpu_seconds = 0;
  double start_seconds_after_boot = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  double threads = 0;
};

// A /proc file whole (they are small; plain read(2): GCC 12's -Wnull-dereference trips on
// inlined iostreams).
std::string ReadProcFile(const char* path) {
  std::string text;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;)
    text.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

bool ReadStat(Stat& stat) {
  const std::string text = ReadProcFile("/proc/self/stat");
  // Field 2 (comm) is in parentheses and may hold spaces: split after its closing one.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<double> values;                 // from field 3 (state, not a number: 0) on
  const char* at = text.c_str() + close + 2;  // past ") "
  while (*at != '\0') {
    char* end = nullptr;
    values.push_back(std::strtod(at, &end));
    at = end;
    while (*at != '\0' && *at != ' ')
      ++at;  // past a non-numeric field
    while (*at == ' ' || *at == '\n')
      ++at;
  }
  if (values.size() < 22) return false;
  auto field = [&](int number) { return values[static_cast<std::size_t>(number - 3)]; };
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  stat.cpu_seconds = (field(14) + field(15)) / ticks;  // utime + stime
  stat.threads = field(20);
  stat.start_seconds_after_boot = field(22) / ticks;
  stat.virtual_bytes = field(23);
  stat.resident_bytes = field(24) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  return true;
}

double BootTimeSeconds() {
  const std::string text = ReadProcFile("/proc/stat");
  const std::size_t at = text.find("\nbtime ");
  return at == std::string::npos ? 0 : std::strtod(text.c_str() + at + 7, nullptr);
}

double OpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the directory stream's own descriptor
}

}  // namespace

ProcessMetrics::ProcessMetrics(std::string role) : role_(std::move(role)) {}

void ProcessMetrics::SetRecovered(std::chrono::nanoseconds duration,
                                  std::uint64_t events_replayed) noexcept {
  recovery_seconds_.store(std::chrono::duration<double>(duration).count());
  recovery_events_replayed_.store(events_replayed);
}

std::vector<MetricFamily> ProcessMetrics::Collect() const {
  std::vector<MetricFamily> out;
  out.push_back(OneValue("hotdeal_build_info", "Always 1; the labels say which build runs",
                         MetricType::Gauge, 1,
                         {{"version", HOTDEAL_VERSION},
                          {"build_type", HOTDEAL_BUILD_TYPE},
                          {"compiler", __VERSION__},
                          {"role", role_}}));
  out.push_back(OneValue("hotdeal_recovery_duration_seconds",
                         "How long serve's recovery from MySQL and Kafka took (0: none yet)",
                         MetricType::Gauge, recovery_seconds_.load()));
  out.push_back(OneValue("hotdeal_recovery_events_replayed",
                         "Events recovery replayed from the Kafka tail", MetricType::Gauge,
                         static_cast<double>(recovery_events_replayed_.load())));
  Stat stat;
  if (ReadStat(stat)) {
    out.push_back(OneValue("process_cpu_seconds_total", "User and system CPU time spent",
                           MetricType::Counter, stat.cpu_seconds));
    out.push_back(OneValue("process_start_time_seconds", "Start time since the Unix epoch",
                           MetricType::Gauge, BootTimeSeconds() + stat.start_seconds_after_boot));
    out.push_back(OneValue("process_virtual_memory_bytes", "Virtual memory size", MetricType::Gauge,
                           stat.virtual_bytes));
    out.push_back(OneValue("process_resident_memory_bytes", "Resident memory size",
                           MetricType::Gauge, stat.resident_bytes));
    out.push_back(OneValue("process_threads", "OS threads", MetricType::Gauge, stat.threads));
  }
  out.push_back(
      OneValue("process_open_fds", "Open file descriptors", MetricType::Gauge, OpenFds()));
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(OneValue("process_max_fds", "Maximum open file descriptors", MetricType::Gauge,
                           static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

}  // namespace hotdeal::app
