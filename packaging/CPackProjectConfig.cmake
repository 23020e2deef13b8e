# Read by cpack before it builds the packages: checks that matter only for packages.
if(CPACK_GENERATOR STREQUAL "DEB")
  if(NOT CPACK_NR_CHANGELOG_UPSTREAM_VERSION STREQUAL CPACK_PACKAGE_VERSION)
    message(FATAL_ERROR "packaging/deb/changelog: the top entry is for ${CPACK_NR_CHANGELOG_UPSTREAM_VERSION}, "
                        "the project is ${CPACK_PACKAGE_VERSION}: add an entry for it")
  endif()
  if(NOT CPACK_PACKAGING_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "Debian packages need a tree configured with -DCMAKE_INSTALL_PREFIX=/usr "
                        "(this one has ${CPACK_PACKAGING_INSTALL_PREFIX}): use packaging/build-deb")
  endif()
endif()
