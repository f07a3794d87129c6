// Entry point of the `hotdeal` binary: hands the arguments and the environment to RunCli.
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "cli.h"
#include "persist.h"
#include "serve.h"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return hotdeal::app::RunCli(
      args, [](const char* name) { return std::getenv(name); }, std::cout, std::cerr,
      {.serve = hotdeal::app::RunServe, .persist = hotdeal::app::RunPersist});
}
