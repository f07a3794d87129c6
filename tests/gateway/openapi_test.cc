// api/openapi.yaml and the gateway's route table must list the same (method, path) pairs:
// a route served but not documented, or documented but not served, fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "hotdeal/gateway/routes.h"

namespace hotdeal::gateway {
namespace {

using Operation = std::pair<std::string, std::string>;  // method (lower case), path

// Reads the `paths:` block: paths are keys indented by two spaces, operations by four. This
// is the layout api/openapi.yaml keeps; a flow-style paths block would read as empty and fail.
std::set<Operation> OpenApiOperations(const std::string& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in.good()) << file;
  std::set<Operation> operations;
  std::string line;
  std::string path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = line == "paths:";
    if (!in_paths) continue;
    if (line.starts_with("  /") && line.ends_with(":")) {
      path = line.substr(2, line.size() - 3);
    } else if (line.starts_with("    ") && !line.starts_with("     ")) {
      std::string key = line.substr(4, line.find(':') - 4);
      for (const char* method : {"get", "post", "put", "patch", "delete", "head", "options"}) {
        if (key == method) operations.insert({key, path});
      }
    }
  }
  return operations;
}

std::set<Operation> RouterOperations() {
  std::set<Operation> operations;
  for (const Route& route : Routes()) {
    std::string method(MethodName(route.method));
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    operations.insert({method, std::string(route.path)});
  }
  return operations;
}

TEST(OpenApi, DocumentsExactlyTheServedRoutes) {
  std::set<Operation> documented = OpenApiOperations(HOTDEAL_OPENAPI_PATH);
  std::set<Operation> served = RouterOperations();
  for (const Operation& operation : served) {
    EXPECT_TRUE(documented.count(operation))
        << "served but not in openapi.yaml: " << operation.first << " " << operation.second;
  }
  for (const Operation& operation : documented) {
    EXPECT_TRUE(served.count(operation))
        << "in openapi.yaml but not served: " << operation.first << " " << operation.second;
  }
  EXPECT_EQ(documented.size(), Routes().size());
}

}  // namespace
}  // namespace hotdeal::gateway
