# One interface target carries the project's warning flags; every target links it PRIVATE.
add_library(nr_warnings INTERFACE)
target_compile_options(nr_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wno-missing-field-initializers>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Wpedantic>)
