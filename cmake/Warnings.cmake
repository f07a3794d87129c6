# Warnings for the project's own code only; third-party headers come in as SYSTEM and are exempt.
function(hotdeal_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough
    -Wcast-align -Wnull-dereference -Wdouble-promotion -Werror)
endfunction()
