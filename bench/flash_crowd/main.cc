// flash_crowd: plays a flash sale against a hotdeal server and audits it. See run.h.
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "run.h"

int main(int argc, char** argv) {
  // A server closing mid-write must surface as a failed request, not kill the tool.
  std::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv + 1, argv + argc);
  return hotdeal::bench::RunFlashCrowd(args, std::cout, std::cerr);
}
