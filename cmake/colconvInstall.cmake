# Install rules, the exported CMake package, the pkg-config file and the
# Debian package. Included from the top-level CMakeLists.txt after every
# target exists.
#
#   cmake --install build [--prefix P]    headers, libcolconv (.a or .so with
#                                         SONAME), colconv-bench, colconv-run,
#                                         the package for find_package(colconv)
#                                         and colconv.pc
#   cpack -G DEB --config build/CPackConfig.cmake
#                                         colconv_<version>-1_<arch>.deb
#
# The installed target colconv::colconv names its OpenBLAS, OpenMP and
# protobuf-c dependencies as colconv::openblas, colconv::openmp and
# colconv::protobuf_c; colconvConfig.cmake defines those after finding them
# again in the consuming project, so the link line is right for a static and
# a shared libcolconv.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(COLCONV_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/colconv"
  CACHE STRING "Where colconvConfig.cmake is installed, relative to the prefix")
set(COLCONV_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  CACHE STRING "Where colconv.pc is installed, relative to the prefix")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  COMPONENT Development
  FILES_MATCHING PATTERN "*.h")

install(TARGETS colconv EXPORT colconvTargets
  RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime
  LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Runtime
    NAMELINK_COMPONENT Development
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT Development
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# The user's programs, each where it was built (colconv-run: tools/run/).
foreach(colconv_program IN ITEMS colconv-bench colconv-run)
  if(NOT TARGET ${colconv_program})
    continue()
  endif()
  # A relocatable RPATH when the library does not land in a system directory
  # (an install under /tmp or /opt); none for /usr, where the loader looks.
  list(FIND CMAKE_C_IMPLICIT_LINK_DIRECTORIES "${CMAKE_INSTALL_FULL_LIBDIR}" colconv_libdir_is_system)
  if(BUILD_SHARED_LIBS AND colconv_libdir_is_system EQUAL -1)
    file(RELATIVE_PATH colconv_bin_to_lib "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
    set_target_properties(${colconv_program} PROPERTIES INSTALL_RPATH "$ORIGIN/${colconv_bin_to_lib}")
  endif()
  install(TARGETS ${colconv_program} RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT Runtime)
endforeach()

# The CMake package: targets, config (re-finds the dependencies) and version.
install(EXPORT colconvTargets
  NAMESPACE colconv::
  FILE colconvTargets.cmake
  DESTINATION "${COLCONV_INSTALL_CMAKEDIR}"
  COMPONENT Development)

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/colconvConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/colconvConfig.cmake"
  INSTALL_DESTINATION "${COLCONV_INSTALL_CMAKEDIR}")

# 0.x: a release that changes the minor version may change the API, so
# find_package(colconv 0.1) accepts 0.1.y only.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/colconvConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)

install(FILES
  "${PROJECT_BINARY_DIR}/colconvConfig.cmake"
  "${PROJECT_BINARY_DIR}/colconvConfigVersion.cmake"
  DESTINATION "${COLCONV_INSTALL_CMAKEDIR}"
  COMPONENT Development)

# pkg-config. A static libcolconv needs OpenBLAS and protobuf-c
# (Requires.private, Debian's openblas.pc and libprotobuf-c.pc) and the
# OpenMP runtime colconv was compiled against (Libs.private), which `pkg-config --static` adds. The prefix is written at
# install time, so `cmake --install build --prefix P` gives a right colconv.pc.
set(COLCONV_PC_LIBS_PRIVATE "")
foreach(lib IN LISTS OpenMP_C_LIB_NAMES)
  string(APPEND COLCONV_PC_LIBS_PRIVATE " -l${lib}")
endforeach()
string(APPEND COLCONV_PC_LIBS_PRIVATE " -lm")
string(STRIP "${COLCONV_PC_LIBS_PRIVATE}" COLCONV_PC_LIBS_PRIVATE)
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(COLCONV_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(COLCONV_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(COLCONV_PC_PREFIX "@CMAKE_INSTALL_PREFIX@") # left for the install step
configure_file("${CMAKE_CURRENT_LIST_DIR}/colconv.pc.in" "${PROJECT_BINARY_DIR}/colconv.pc.in" @ONLY)
install(CODE "configure_file(\"${PROJECT_BINARY_DIR}/colconv.pc.in\" \"${PROJECT_BINARY_DIR}/colconv.pc\" @ONLY)"
  COMPONENT Development)
install(FILES "${PROJECT_BINARY_DIR}/colconv.pc"
  DESTINATION "${COLCONV_INSTALL_PKGCONFIGDIR}"
  COMPONENT Development)

# The Debian package: one package with the library, the header, the CMake
# and pkg-config files, colconv-bench and colconv-run. Configure with
# -DCMAKE_INSTALL_PREFIX=/usr (so libdir is Debian's multiarch directory)
# and, for a package that other programs link at run time,
# -DBUILD_SHARED_LIBS=ON.
set(CPACK_PACKAGE_NAME colconv)
set(CPACK_PACKAGE_VENDOR "colconv")
set(CPACK_PACKAGE_CONTACT "colconv maintainers <colconv@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "colconv runs the convolutions of classic CNNs fast on CPUs: im2col tiles\nand 1x1 convolutions multiplied with OpenBLAS SGEMM, and vectorised direct\nkernels. This package holds the C library, its header, CMake and pkg-config\nfiles, colconv-bench and colconv-run (ONNX models from the shell).")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Runtime dependencies come from the binaries (dpkg-shlibdeps: libc6,
# libgomp1 and OpenBLAS); the OpenMP build of OpenBLAS is named so that
# colconv and OpenBLAS share one OpenMP runtime. Building against the package
# (find_package, pkg-config) also needs the OpenBLAS development files.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0-openmp")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas-openmp-dev, libprotobuf-c-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "gnuplot-nox") # colconv-bench --plot
set(CPACK_GENERATOR DEB)
if(PROJECT_IS_TOP_LEVEL)
  include(CPack)
endif()
