# `cmake --install`: the libraries, their headers under include/sluice, and a
# CMake package, so that a project of its own domain does
#
#   find_package(sluice CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE sluice::sluice)
#
# (examples/inventory is such a project, built against the installed package
# in CI). The actor internals and their CAF headers stay private.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Everything a server of one's own domain links: app::run and below, and
# simdjson for the modules' payload decoding (domain/aggregate_type_of.h).
add_library(sluice_all INTERFACE)
set_target_properties(sluice_all PROPERTIES EXPORT_NAME sluice)
target_link_libraries(sluice_all INTERFACE sluice_app simdjson::simdjson fmt::fmt)
add_library(sluice::sluice ALIAS sluice_all)

set(SLUICE_LIBRARIES sluice_options sluice_base sluice_codec sluice_log sluice_cluster sluice_domain sluice_views sluice_builtin
    sluice_engine sluice_api sluice_http sluice_actors sluice_cli sluice_app sluice_all)
install(TARGETS ${SLUICE_LIBRARIES} EXPORT sluiceTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sluice)
install(DIRECTORY src/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sluice FILES_MATCHING PATTERN "*.h")

set(SLUICE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sluice)
install(EXPORT sluiceTargets NAMESPACE sluice:: DESTINATION ${SLUICE_CMAKE_DIR})
configure_package_config_file(cmake/sluiceConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/sluiceConfig.cmake
                              INSTALL_DESTINATION ${SLUICE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/sluiceConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sluiceConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/sluiceConfigVersion.cmake
              cmake/FindCAF.cmake cmake/FindxxHash.cmake cmake/FindNATS.cmake
        DESTINATION ${SLUICE_CMAKE_DIR})
install(TARGETS sluice RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
