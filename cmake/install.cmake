# What `cmake --install BUILD --prefix P` puts in place, and the Debian package
# (`cd BUILD && cpack -G DEB`). Checked by tools/test-install.sh.
#   bin/dopflow                      the command (library linked in statically)
#   lib/libdopflow.so.MAJOR          the shared library: exports only the dop_* API
#   include/dopflow/*.h              the public headers
#   lib/pkgconfig/dopflow.pc, lib/cmake/dopflow/   pkg-config and CMake packages
#   share/man/man1/dopflow*.1        manual pages made from --help by help2man
#   share/bash-completion/completions/dopflow
#   share/dopflow/datasets/          the example specs and the Shoemaker 1997 cohort
#   lib/python3/dist-packages/dopflow/   the Python package (python/)
include(CMakePackageConfigHelpers)

install(TARGETS dopflow_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS dopflow_shared EXPORT dopflowTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(DOPFLOW_INSTALL_STATIC)
  install(TARGETS dopflow ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/dopflow DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# pkg-config: relocatable (${pcfiledir}); Requires.private and Libs.private for static links.
file(RELATIVE_PATH DOPFLOW_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" DOPFLOW_PC_TO_PREFIX "${DOPFLOW_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/dopflow.pc.in ${CMAKE_BINARY_DIR}/dopflow.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/dopflow.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake package: dopflow::dopflow, version file (same major version = compatible).
set(DOPFLOW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dopflow)
install(EXPORT dopflowTargets NAMESPACE dopflow:: DESTINATION ${DOPFLOW_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/dopflowConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/dopflowConfig.cmake INSTALL_DESTINATION ${DOPFLOW_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/dopflowConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/dopflowConfig.cmake ${CMAKE_BINARY_DIR}/dopflowConfigVersion.cmake
        DESTINATION ${DOPFLOW_CMAKE_DIR})

# Manual pages, made at build time from the built binary's --help by help2man,
# so they cannot drift from it: dopflow.1 and dopflow-COMMAND.1 per subcommand.
# The commands are read from the table in tools/dopflow.c (a command added there
# gets its page); tools/test-install.sh checks that every command of `dopflow
# --help` has one.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tools/dopflow.c)
file(STRINGS ${CMAKE_SOURCE_DIR}/tools/dopflow.c command_lines REGEX "^ *{\"[a-z]+\", *cmd_[a-z_]+,")
set(DOPFLOW_SUBCOMMANDS "")
foreach(line ${command_lines})
  string(REGEX MATCH "\"([a-z]+)\"" unused "${line}")
  list(APPEND DOPFLOW_SUBCOMMANDS ${CMAKE_MATCH_1})
endforeach()
find_program(HELP2MAN help2man)
if(CMAKE_C_FLAGS MATCHES "sanitize")
  # Sanitizer and fuzzing builds (tools/sanitize.sh, tools/fuzz.sh) are never installed.
elseif(HELP2MAN)
  set(man_pages ${CMAKE_BINARY_DIR}/man/dopflow.1)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/dopflow.1
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section=1
            --name "Doppler ultrasound blood-flow analysis" --output=${CMAKE_BINARY_DIR}/man/dopflow.1
            $<TARGET_FILE:dopflow_cli>
    DEPENDS dopflow_cli VERBATIM)
  foreach(cmd ${DOPFLOW_SUBCOMMANDS})
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/dopflow-${cmd}.1
      COMMAND ${CMAKE_SOURCE_DIR}/cmake/manpage.sh $<TARGET_FILE:dopflow_cli> ${cmd}
              ${CMAKE_BINARY_DIR}/man/dopflow-${cmd}.1 ${PROJECT_VERSION}
      DEPENDS dopflow_cli ${CMAKE_SOURCE_DIR}/cmake/manpage.sh VERBATIM)
    list(APPEND man_pages ${CMAKE_BINARY_DIR}/man/dopflow-${cmd}.1)
  endforeach()
  add_custom_target(dopflow_man ALL DEPENDS ${man_pages})
  install(FILES ${man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(WARNING "help2man not found: no manual pages (tools/install-deps.sh installs it)")
endif()

install(FILES ${CMAKE_SOURCE_DIR}/tools/completion/dopflow.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME dopflow)

# Run-time data, found by the installed binary relative to itself (cli_data_file).
install(DIRECTORY ${CMAKE_SOURCE_DIR}/datasets DESTINATION ${CMAKE_INSTALL_DATADIR}/dopflow)
install(PROGRAMS ${CMAKE_SOURCE_DIR}/tools/demo.sh DESTINATION ${CMAKE_INSTALL_DATADIR}/dopflow)

# The Python package (ctypes over libdopflow.so; python/README in the README).
set(DOPFLOW_PYTHON_DIR lib/python3/dist-packages CACHE STRING "where cmake --install puts the Python package")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/python/dopflow DESTINATION ${DOPFLOW_PYTHON_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
file(RELATIVE_PATH DOPFLOW_PY_TO_LIB ${CMAKE_INSTALL_PREFIX}/${DOPFLOW_PYTHON_DIR}/dopflow
     ${CMAKE_INSTALL_FULL_LIBDIR})
configure_file(${CMAKE_SOURCE_DIR}/python/dopflow/_install.py.in ${CMAKE_BINARY_DIR}/python/_install.py @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/python/_install.py DESTINATION ${DOPFLOW_PYTHON_DIR}/dopflow)

# The Debian package: cpack -G DEB in the build folder -> dopflow_VERSION_ARCH.deb.
set(CPACK_PACKAGE_NAME dopflow)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "dopflow maintainers <dopflow@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Doppler ultrasound blood-flow analysis (command, C library, Python)")
set(CPACK_PACKAGE_DESCRIPTION "From a quadrature Doppler recording to the velocity spectrum, the maximum and
mean velocity envelopes, beat-by-beat indices and volumetric flow; batch
reanalysis of studies; a simulator of recordings with known truth.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)        # Depends on the run-time libraries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # shlibs file and the ldconfig trigger
# Not found by dpkg-shlibdeps: PLplot loads its cairo driver at run time; the
# Python package needs NumPy (h5py for HDF5 results, pandas optional).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "plplot-driver-cairo, python3, python3-numpy")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-h5py")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-pandas")
include(CPack)
