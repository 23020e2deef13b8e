# nautilus_relay_add_plugin(<name> <source>...)
#
# Builds a nautilus-relay plugin: a MODULE library named <name>.so (no "lib" prefix) that links
# NautilusRelay::sdk, exports only nr_plugin_entry (hidden visibility for everything else) and is
# linked with -z defs, which proves it needs no host symbol: everything comes through the table.
# The same helper serves in-tree plugins and out-of-tree ones (find_package(NautilusRelaySDK)).
include_guard(GLOBAL)

function(nautilus_relay_add_plugin name)
  if(NOT ARGN)
    message(FATAL_ERROR "nautilus_relay_add_plugin(${name}): no source files")
  endif()
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE NautilusRelay::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE LINKER:-z,defs)  # the table means no host symbols are needed
  endif()
endfunction()
