// The demo page served at GET /demo/: one static HTML file with its script inline
// (gateway/demo/index.html), built into the binary so the server needs no directory for it.
#pragma once

#include <string_view>

namespace hotdeal::gateway {

std::string_view DemoPage();

}  // namespace hotdeal::gateway
